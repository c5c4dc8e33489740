"""Edge fixtures: a seeded school in a fresh database, the app in-process or served by real
hypercorn processes, tokens."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import secrets
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pytest_postgresql.executors import PostgreSQLExecutor
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import Redis

from db.cluster import free_port
from db.seed import SeedResult, seed
from db.tokens import mint
from edge import create_app
from edge.main import hypercorn_command
from edge.settings import EdgeSettings
from stack.redis_server import EmbeddedRedis
from tests.conftest import url_for
from tests.db.helpers import wait_for

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


@pytest.fixture
def school(db: psycopg.Connection[Any], db_url: str) -> SeedResult:
    """Two classes of five students with 30 days of history; views refreshed."""
    result = seed(db_url, classes=2, students_per_class=5, days=30, periods=2, quiet=True)
    db.execute("select analytics.refresh()")
    return result


@pytest.fixture(autouse=True)
def _school_before_app(request: pytest.FixtureRequest) -> None:
    """A test that has a school gets it before its app starts: the app's startup then waits for
    its events bridge to have read the school's events, whose invalidations would otherwise
    land in the middle of the test's cache assertions."""
    if "school" in request.fixturenames:
        request.getfixturevalue("school")


@pytest.fixture
def edge_db_url(db: psycopg.Connection[Any], postgresql_proc: PostgreSQLExecutor) -> str:
    """The edge connects as the authenticator login role, exactly as in production."""
    return url_for(postgresql_proc, db.info.dbname, user="authenticator")


@pytest.fixture
def settings(edge_db_url: str, redis_url: str, tmp_path: Path) -> EdgeSettings:
    Redis.from_url(redis_url).flushdb()
    return EdgeSettings(
        database_url=edge_db_url,
        redis_url=redis_url,
        jwt_secret=SECRET,
        storage_dir=str(tmp_path / "storage"),
        db_pool_min=1,
        db_pool_max=20,
        db_retry_delays_s=(0.05, 0.1, 0.2),
        debug=False,
    )


@pytest.fixture
async def app(settings: EdgeSettings) -> AsyncIterator[Quart]:
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


def token(user: uuid.UUID | str, ttl: int = 3600, secret: str = SECRET) -> str:
    return mint(secret, user, ttl_seconds=ttl)


def bearer(user: uuid.UUID | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user)}"}


async def settle(app: Quart, timeout: float = 10.0) -> None:
    """Wait until the app's events bridge has read everything committed before this call (its
    invalidations would otherwise land in the middle of a test's cache assertions)."""
    bridge = app.extensions["edge"].bridge
    await app.extensions["edge"].db.call_as_edge("select pg_notify('app_events', '')")
    target = bridge.idle_reads + 2
    deadline = asyncio.get_running_loop().time() + timeout
    while bridge.idle_reads < target:
        assert asyncio.get_running_loop().time() < deadline, "the events bridge did not catch up"
        await asyncio.sleep(0.01)


async def introduce(client: Client, headers: dict[str, str]) -> None:
    """One response that names the student's class, so this app knows it from now on (the first
    class-dependent response of a student the app has not seen is not stored). Waits first for
    the events bridge to have read every change made so far."""
    await settle(client.app)
    response = await client.get("/api/students/class-statistics", headers=headers)
    assert response.status_code == 200, await response.get_json()


def with_settings(settings: EdgeSettings, **changes: Any) -> EdgeSettings:
    return dataclasses.replace(settings, **changes)


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A Redis this test may stop and start again on the same port."""
    with tempfile.TemporaryDirectory() as workdir:
        server = EmbeddedRedis(Path(workdir), free_port(), secrets.token_urlsafe(8), maxmemory="16mb")
        server.start()
        yield server
        server.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class Edges(list[str]):
    """The URLs of served edge processes, with the processes themselves."""

    procs: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def served_edges(
    settings: EdgeSettings, count: int = 1, env: dict[str, str] | None = None, **more: str
) -> Iterator[Edges]:
    """`count` edge processes under hypercorn with the project's configuration and these
    environment variables; their URLs."""
    environment = {
        **os.environ,
        "EDGE_DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": SECRET,
        "STORAGE_DIR": settings.storage_dir,
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "5",
        **(env or {}),
        **more,
    }
    procs, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    hypercorn_command(f"127.0.0.1:{port}"),
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for(functools.partial(_healthy, url), 30, f"hypercorn at {url}")
        edges = Edges(urls)
        edges.procs = procs
        yield edges
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=15)


def http_scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An ASGI HTTP scope, for tests that drive the app as hypercorn does (their own receive and
    send: a client that leaves at a chosen moment)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"x")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
