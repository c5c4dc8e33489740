"""Shared fixtures: a real Postgres (pg_cron preloaded, migrated template) and a real Redis."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import PostgreSQLExecutor

from db.cluster import free_port
from db.migrate import migrate
from stack.clamd import EmbeddedClamd
from stack.redis_server import EmbeddedRedis
from tests.db.helpers import wait_for

HERE = Path(__file__).resolve().parent
TEMPLATE_DB = "tests_tmpl"  # pytest-postgresql names the template <dbname>_tmpl


def load_template(host: str, port: int, user: str, dbname: str, password: str | None, **_: Any) -> None:
    """Migrate the template once per session; every test database is cloned from it.

    The template is pg_cron's database: a job that ran in it would populate the views every
    later clone inherits. Jobs are switched off once migrated, and until then none can run
    (pg_cron connects to a socket that does not exist, see postgresql_proc). The test that
    needs pg_cron to run a job starts a cluster of its own.
    """
    url = f"postgresql://{user}@{host}:{port}/{dbname}"
    migrate(url, log=lambda _: None)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update cron.job set active = false")
        # The worker's role logs in here as `make run` lets it (trust: no password).
        conn.execute("alter role jobs_worker login")


postgresql_proc = factories.postgresql_proc(
    executable=str(HERE / "pg_ctl.sh"),
    host="127.0.0.1",
    port=None,
    user="postgres",
    dbname="tests",
    postgres_options=(
        "-c shared_preload_libraries=pg_cron"
        f" -c cron.database_name={TEMPLATE_DB}"
        # Jobs connect over libpq to a host that does not exist, so a job falling due while the
        # template is migrated fails instead of running (it was switched off only afterwards).
        " -c cron.use_background_workers=off"
        " -c cron.host=/nonexistent"
        " -c max_worker_processes=32"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        " -c timezone=UTC"
    ),
    load=[load_template],
)
postgresql = factories.postgresql("postgresql_proc")


def url_for(proc: PostgreSQLExecutor, dbname: str, user: str | None = None) -> str:
    return f"postgresql://{user or proc.user}@{proc.host}:{proc.port}/{dbname}"


@pytest.fixture
def db(postgresql: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """A fresh, migrated database for this test (a clone of the template), as its owner."""
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def db_url(db: psycopg.Connection[Any], postgresql_proc: PostgreSQLExecutor) -> str:
    return url_for(postgresql_proc, db.info.dbname)


@pytest.fixture
def jobs_db_url(db: psycopg.Connection[Any], postgresql_proc: PostgreSQLExecutor) -> str:
    """The jobs worker's connection: its own login role, as in `make run`."""
    return url_for(postgresql_proc, db.info.dbname, user="jobs_worker")


@pytest.fixture
def empty_db_url(postgresql_proc: PostgreSQLExecutor) -> Iterator[str]:
    """A database with nothing in it, for tests of the migration runner."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    admin = url_for(postgresql_proc, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}" template template0')
    yield url_for(postgresql_proc, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database "{name}" with (force)')


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A private redis-server for the whole session (no persistence, LRU, capped memory)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: run `make system`")
    server = EmbeddedRedis(
        workdir=tmp_path_factory.mktemp("redis"),
        port=free_port(),
        password=secrets.token_urlsafe(16),
        maxmemory="64mb",
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url()


@pytest.fixture(scope="session")
def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real clamd for the session, with the project's custom EICAR signatures (stack/clamd.py)."""
    server = EmbeddedClamd(tmp_path_factory.mktemp("clamd"), free_port())
    log = open(server.workdir / "clamd.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(server.command(), stdout=log, stderr=subprocess.STDOUT)

    def answers() -> bool:
        assert proc.poll() is None, (server.workdir / "clamd.log").read_text()
        return server.answers()

    try:
        wait_for(answers, 60, "clamd to answer PING")
        yield server.url()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
