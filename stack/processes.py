"""The processes of `make run`, in the order they start: one entry each.

An entry says how to run the process in the foreground, how to tell it is ready, and how to
stop it; what must happen before it starts or once it is ready; and, for a service whose URL
is set in the environment, how to check the one that is already there instead of starting one.
"""

from __future__ import annotations

import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from db import migrate
from db.cluster import SERVER_USER, EmbeddedPostgres
from db.config import ConfigError
from db.local import check_reachable
from db.seed import seed
from edge.main import hypercorn_command
from jobs.settings import SettingsError, Smtp
from stack.redis_server import EmbeddedRedis
from stack.settings import Stack


@dataclass(frozen=True)
class Process:
    name: str
    # A word its command line always holds: a pid found in a pidfile is this process only then.
    program: str
    command: Callable[[Stack], list[str]]
    ready: Callable[[Stack], bool]
    stop_signal: signal.Signals = signal.SIGTERM
    # False: the environment names a service of someone else's; `external` checks it instead.
    embedded: Callable[[Stack], bool] = lambda _: True
    external: Callable[[Stack], None] = lambda _: None
    # The port it listens on and the setting that moves it: checked before anything starts.
    port: Callable[[Stack], tuple[int, str]] | None = None
    # Where the process writes its pid (its own pidfile, or one the runner writes).
    pidfile: Callable[[Stack], Path] | None = None
    prepare: Callable[[Stack], None] = lambda _: None
    after_ready: Callable[[Stack], None] = lambda _: None
    env: Callable[[Stack], dict[str, str]] = lambda _: {}
    user: str | None = None
    # Output to var/<name>.log, else to the terminal of `make run`.
    log_to_file: bool = True
    # One left running (by a `make run` that was killed) is used as it is rather than refused.
    reusable: bool = False
    ready_timeout_s: float = 120.0
    # One line `make run` prints once everything is up: where to look.
    describe: Callable[[Stack], str] | None = None


def prepare_database(stack: Stack) -> None:
    """Migrate, give the edge's login role its password, and seed a database with no students."""
    if stack.database.postgres is not None:
        stack.database.postgres.ensure_database()
    migrate.migrate(stack.database.url)
    stack.database.set_authenticator_password()
    if stack.database.is_empty():
        seed(stack.database.url, jwt_secret=stack.database.jwt_secret)


def check_redis(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.redis_url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach REDIS_URL: {' '.join(str(exc).split())}") from exc
    finally:
        client.close()


def http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def smtp_ready(port: int) -> bool:
    """The sink answers with its SMTP greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            return conn.recv(3) == b"220"
    except OSError:
        return False


def check_smtp(stack: Stack) -> None:
    try:
        Smtp.from_url(stack.smtp_url)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from exc


def _pg(stack: Stack) -> EmbeddedPostgres:
    pg = stack.database.postgres
    assert pg is not None, "only asked of an embedded cluster"
    return pg


def _redis(stack: Stack) -> EmbeddedRedis:
    assert stack.redis is not None, "only asked of an embedded Redis"
    return stack.redis


PROCESSES: tuple[Process, ...] = (
    Process(
        name="postgres",
        program="postgres",
        command=lambda s: _pg(s).server_command(),
        ready=lambda s: _pg(s).accepts_connections(),
        # SIGINT is Postgres's fast shutdown: sessions are ended, nothing is lost.
        stop_signal=signal.SIGINT,
        embedded=lambda s: s.database.postgres is not None,
        external=lambda s: check_reachable("DATABASE_URL", s.database.url),
        port=lambda s: (_pg(s).port, "PG_PORT"),
        pidfile=lambda s: _pg(s).datadir / "postmaster.pid",
        prepare=lambda s: _pg(s).prepare(),
        after_ready=prepare_database,
        user=SERVER_USER,
        reusable=True,
    ),
    Process(
        name="redis",
        program="redis-server",
        command=lambda s: _redis(s).command(),
        ready=lambda s: _redis(s).answers(),
        embedded=lambda s: s.redis is not None,
        external=check_redis,
        port=lambda s: (_redis(s).port, "REDIS_PORT"),
        pidfile=lambda s: _redis(s).pidfile,
        reusable=True,
    ),
    Process(
        name="edge",
        program="hypercorn",
        command=lambda s: hypercorn_command(f"127.0.0.1:{s.edge_port}"),
        ready=lambda s: http_ready(f"{s.edge_url}/readyz"),
        port=lambda s: (s.edge_port, "EDGE_PORT"),
        env=lambda s: s.env(),
        log_to_file=False,
    ),
    Process(
        name="mail",
        program="stack.smtp_sink",
        command=lambda s: [
            sys.executable,
            "-m",
            "stack.smtp_sink",
            str(s.mail_dir),
            "--port",
            str(s.smtp_port),
        ],
        ready=lambda s: smtp_ready(s.smtp_port),
        embedded=lambda s: s.external_smtp_url is None,
        external=check_smtp,
        port=lambda s: (s.smtp_port, "SMTP_PORT"),
        describe=lambda s: f"mail:      {s.mail_dir}/  (every email the worker sends, as .eml)",
    ),
    Process(
        name="clamd",
        program="clamd",
        command=lambda s: s.clamd.command(),
        ready=lambda s: s.clamd.answers(),
        embedded=lambda s: s.external_clamd_url is None,
        port=lambda s: (s.clamd_port, "CLAMD_PORT"),
        describe=lambda s: (
            f"clamd:     {s.clamd_url}  (test signatures only: point CLAMD_URL at a clamd kept by freshclam)"
        ),
    ),
    Process(
        name="jobs",
        program="jobs",
        command=lambda s: [sys.executable, "-m", "jobs"],
        ready=lambda s: http_ready(f"http://127.0.0.1:{s.jobs_metrics_port}/metrics"),
        port=lambda s: (s.jobs_metrics_port, "JOBS_METRICS_PORT"),
        env=lambda s: s.env(),
        describe=lambda s: f"jobs:      worker metrics at http://127.0.0.1:{s.jobs_metrics_port}/metrics",
    ),
)
