"""A private Redis under var/: no persistence, a memory cap and LRU eviction, as the cache
expects, with a password. 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis

from db.cluster import ServiceError, port_in_use


@dataclass
class EmbeddedRedis:
    workdir: Path
    port: int
    password: str
    maxmemory: str = "256mb"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / "redis.log"

    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    def write_config(self, daemonize: bool) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "redis.conf"
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            'save ""',
            "appendonly no",
            f"maxmemory {self.maxmemory}",
            "maxmemory-policy allkeys-lru",
            f"requirepass {self.password}",
            f"daemonize {'yes' if daemonize else 'no'}",
            f"pidfile {self.pidfile}",
            f"dir {self.workdir}",
        ]
        if daemonize:
            lines.append(f"logfile {self.logfile}")
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return conf

    @staticmethod
    def _server() -> str:
        server = shutil.which("redis-server")
        if server is None:
            raise ServiceError("redis-server not found: install redis-server (make system)")
        return server

    def command(self) -> list[str]:
        """The server in the foreground, logging to its standard output; SIGTERM stops it."""
        return [self._server(), str(self.write_config(daemonize=False))]

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def is_running(self) -> bool:
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return True

    def start(self) -> None:
        """Start it as a daemon of its own (the tests' Redis)."""
        server = self._server()
        if port_in_use(self.port):
            raise ServiceError(
                f"port {self.port} is already taken: stop what uses it or set REDIS_PORT to a free port"
            )
        subprocess.run([server, str(self.write_config(daemonize=True))], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if port_in_use(self.port) and self.is_running():
                return
            time.sleep(0.05)
        raise ServiceError(f"redis did not start: see {self.logfile}")

    def stop(self) -> None:
        if not self.is_running():
            return
        pid = int(self.pidfile.read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.is_running():
            time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
