"""A private Postgres 15 cluster under var/ (or a temporary directory), with the project's
configuration: pg_cron preloaded for the application database, scram passwords, 127.0.0.1 only.

As root, the server runs as the `postgres` user (initdb refuses root); as a normal user it runs
as that user. The database commands start it with pg_ctl for as long as they need it; the local
stack (`make run`) runs `server_command()` in the foreground instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

PG_BINDIR = Path(os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin"))
IS_ROOT = os.geteuid() == 0


class ServiceError(Exception):
    """A service could not start or stop; the message says what to fix."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER_USER = "postgres" if IS_ROOT else None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if IS_ROOT else argv


def _chown_to_server_user(path: Path) -> None:
    if IS_ROOT:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """A Postgres cluster in `datadir` with pg_cron preloaded for `dbname`."""

    datadir: Path
    port: int
    dbname: str
    password: str
    extra_conf: dict[str, str] = field(default_factory=dict)

    @property
    def logfile(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def url(self, dbname: str | None = None, user: str = "postgres", password: str | None = None) -> str:
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def is_initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = subprocess.run(
            _as_server_user([str(PG_BINDIR / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True,
        )
        return result.returncode == 0

    def _conf(self) -> dict[str, str]:
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "shared_preload_libraries": "'pg_cron'",
            "cron.database_name": f"'{self.dbname}'",
            "cron.use_background_workers": "on",
            "max_worker_processes": "32",
            "max_connections": "200",
            "shared_buffers": "256MB",
            "timezone": "'UTC'",
        }
        conf.update(self.extra_conf)
        return conf

    def init(self) -> None:
        if not (PG_BINDIR / "initdb").exists():
            raise ServiceError(f"{PG_BINDIR}/initdb not found: install postgresql-15 (make system)")
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if IS_ROOT and subprocess.run(_as_server_user(["test", "-x", str(self.datadir.parent)])).returncode:
            raise ServiceError(
                f"the postgres user cannot reach {self.datadir.parent}: set VAR_DIR to a directory "
                "whose parents it may traverse"
            )
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        _chown_to_server_user(self.datadir)
        pwfile = self.datadir.parent / f".{self.datadir.name}.pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        _chown_to_server_user(pwfile)
        try:
            subprocess.run(
                _as_server_user(
                    [
                        str(PG_BINDIR / "initdb"),
                        "-D",
                        str(self.datadir),
                        "-U",
                        "postgres",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            raise ServiceError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
        self.write_conf()

    def write_conf(self) -> None:
        """Settings go to an included file so that re-running rewrites rather than appends."""
        extra = self.datadir / "embedded.conf"
        extra.write_text("".join(f"{k} = {v}\n" for k, v in self._conf().items()))
        _chown_to_server_user(extra)
        main = self.datadir / "postgresql.conf"
        if "include_if_exists = 'embedded.conf'" not in main.read_text():
            with main.open("a") as fh:
                fh.write("\ninclude_if_exists = 'embedded.conf'\n")

    def prepare(self) -> None:
        """Create the cluster if it does not exist, else rewrite its configuration."""
        if not self.is_initialised():
            self.init()
        else:
            self.write_conf()

    def server_command(self) -> list[str]:
        """The server in the foreground (run it as SERVER_USER); SIGINT stops it (fast shutdown)."""
        return [str(PG_BINDIR / "postgres"), "-D", str(self.datadir)]

    def accepts_connections(self) -> bool:
        try:
            psycopg.connect(self.url("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def start(self) -> None:
        if port_in_use(self.port):
            raise ServiceError(
                f"port {self.port} is already taken: stop what uses it or set PG_PORT to a free port"
            )
        self.prepare()
        self.logfile.touch()
        _chown_to_server_user(self.logfile)
        result = subprocess.run(
            _as_server_user(
                [
                    str(PG_BINDIR / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = self.logfile.read_text().strip().splitlines()[-3:]
            raise ServiceError("postgres did not start: " + " | ".join(tail))
        self.ensure_database()

    def ensure_database(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (self.dbname,)).fetchone()
            if not exists:
                conn.execute(f'create database "{self.dbname}"')

    def stop(self) -> None:
        if self.is_running():
            subprocess.run(
                _as_server_user(
                    [str(PG_BINDIR / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
                ),
                check=True,
                capture_output=True,
            )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
