"""A private clamd under var/ for `make run` and the tests: TCP on 127.0.0.1, in the foreground,
with a signature database of its own.

Debian's clamav-daemon comes without signatures and freshclam needs the internet. The database
here holds one custom signature that matches the EICAR test string anywhere in a file (an .ndb
body signature) and one for a file that is exactly EICAR (an .hdb hash): enough to exercise the
real INSTREAM protocol end to end. An installation with internet access points CLAMD_URL at a
clamd kept current by freshclam instead.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from db.cluster import ServiceError

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Attendance.Test.EICAR"


@dataclass
class EmbeddedClamd:
    workdir: Path
    port: int

    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        database = self.workdir / "db"
        database.mkdir(parents=True, exist_ok=True)
        (database / "attendance.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
        digest = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - the .hdb format is md5
        (database / "attendance.hdb").write_text(f"{digest}:{len(EICAR)}:{SIGNATURE}.File\n")
        conf = self.workdir / "clamd.conf"
        conf.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    f"DatabaseDirectory {database}",
                    f"TCPSocket {self.port}",
                    "TCPAddr 127.0.0.1",
                    "LogTime yes",
                    # Uploads are at most 10 MiB; INSTREAM refuses more than this.
                    "StreamMaxLength 16M",
                    "MaxThreads 4",
                    f"PidFile {self.workdir / 'clamd.pid'}",
                ]
            )
            + "\n"
        )
        return conf

    @staticmethod
    def _server() -> str:
        server = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
        if server is None:
            raise ServiceError("clamd not found: install clamav-daemon (make system)")
        return server

    def command(self) -> list[str]:
        return [self._server(), "-c", str(self.write_config())]

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(b"zPING\0")
                return conn.recv(16).rstrip(b"\0") == b"PONG"
        except OSError:
            return False
