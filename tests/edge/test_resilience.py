"""Degradation: Redis going away mid-test (P40), the breaker's states, database retries (P39)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from db.cluster import free_port
from db.seed import SeedResult
from edge import create_app
from edge.breaker import CircuitBreaker
from edge.settings import EdgeSettings
from stack.redis_server import EmbeddedRedis
from tests.db.helpers import call_as
from tests.edge.conftest import bearer, introduce

DASHBOARD = "/api/students/dashboard"


async def test_redis_stopped_mid_test_serves_from_postgres_then_caching_resumes(
    settings: EdgeSettings, school: SeedResult, db: psycopg.Connection[Any], own_redis: EmbeddedRedis
) -> None:
    conf = dataclasses.replace(settings, redis_url=own_redis.url())
    app = create_app(conf)
    headers = bearer(school.demo_student_id)
    expected = call_as(db, school.demo_student_id, "select api.student_dashboard()")
    async with app.test_app() as test_app:
        client = test_app.test_client()
        state = app.extensions["edge"]
        # The breaker's clock is the test's: its open period passes when the test says so.
        now = [0.0]
        state.redis.breaker = CircuitBreaker(
            "redis",
            failure_threshold=conf.redis_breaker_failures,
            window_s=conf.redis_breaker_window_s,
            open_s=conf.redis_breaker_open_s,
            success_threshold=conf.redis_breaker_successes,
            clock=lambda: now[0],
        )
        await introduce(client, headers)
        assert (await client.get(DASHBOARD, headers=headers)).headers["X-Cache"] == "MISS"
        assert (await client.get(DASHBOARD, headers=headers)).headers["X-Cache"] == "HIT"

        own_redis.stop()
        for _ in range(7):
            response = await client.get(DASHBOARD, headers=headers)
            body = await response.get_json()
            assert response.status_code == 200, body
            assert response.headers["X-Cache"] == "BYPASS"
            assert body["attendanceRate"] == expected["attendanceRate"]
            assert body["ranking"] == expected["ranking"]
            assert "X-RateLimit-Remaining" in response.headers, "the per-process limiter stands in"
        assert state.redis.breaker.state == "open", "five failures opened the circuit"
        ready = await (await client.get("/readyz")).get_json()
        assert ready["status"] == "degraded" and ready["circuits"]["redis"] == "open"

        own_redis.start()
        response = await client.get(DASHBOARD, headers=headers)
        assert response.headers["X-Cache"] == "BYPASS", "while open, Redis is not even tried"
        now[0] += conf.redis_breaker_open_s
        statuses = [(await client.get(DASHBOARD, headers=headers)).headers["X-Cache"] for _ in range(3)]
        assert statuses[0] in ("MISS", "HIT") and statuses[-1] == "HIT", statuses
        assert state.redis.breaker.state == "closed", "two successes while half open closed it"


def test_breaker_opens_after_five_failures_in_a_minute_and_closes_after_two_successes() -> None:
    now = [0.0]
    breaker = CircuitBreaker("t", clock=lambda: now[0])
    for _ in range(4):
        breaker.record_failure()
        now[0] += 10
    assert breaker.state == "closed"
    now[0] += 30  # the first failure is now more than 60 s old
    breaker.record_failure()
    assert breaker.state == "closed", "only failures within 60 s count"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] += 30
    assert breaker.state == "half_open" and breaker.allow()
    breaker.record_success()
    assert breaker.state == "half_open"
    breaker.record_failure()
    assert breaker.state == "open", "a failure while half open reopens"
    now[0] += 30
    breaker.record_success()
    breaker.record_success()
    assert breaker.state == "closed"


class FlakyProxy:
    """A TCP proxy to Postgres that drops the first `refuse` connections it receives."""

    def __init__(self, target_port: int, refuse: int) -> None:
        self.target_port = target_port
        self.refuse = refuse
        self.attempts = 0
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self.attempts <= self.refuse:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FlakyProxy]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        async with self._server:
            yield self


async def test_reads_are_retried_on_connection_failures(
    settings: EdgeSettings, school: SeedResult, edge_db_url: str
) -> None:
    """P39: a read whose first connection is refused is retried after the first delay, and succeeds."""
    port = int(edge_db_url.rsplit(":", 1)[1].split("/")[0])
    # The pool itself waits about a second before reconnecting after a failure, so one refused
    # connection costs the first attempt (0.5 s pool timeout) and the retries absorb the rest.
    proxy = FlakyProxy(port, refuse=0)
    async with proxy.running():
        url = edge_db_url.replace(f":{port}/", f":{proxy.port}/")
        conf = dataclasses.replace(
            settings, database_url=url, db_pool_min=0, db_pool_max=2, db_retry_delays_s=(0.05, 0.1, 0.2)
        )
        app = create_app(conf)
        async with app.test_app() as test_app:
            state = app.extensions["edge"]
            # The events bridge has two connections of its own through the proxy (its reader and
            # its dashboards'): once both are up, refuse the next one, the request pool's first.
            while not state.bridge.connected or proxy.attempts < 2:
                await asyncio.sleep(0.01)
            proxy.refuse = proxy.attempts + 1
            state.db.pool.timeout = 0.5
            started = asyncio.get_running_loop().time()
            response = await test_app.test_client().get(DASHBOARD, headers=bearer(school.demo_student_id))
            elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 200, await response.get_json()
    assert proxy.attempts >= 2, "a refused connection, then one that worked"
    assert elapsed >= 0.55, "the first attempt timed out (0.5 s) and the request was retried after 0.05 s"
