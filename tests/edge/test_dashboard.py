"""The student endpoints: bodies from the api functions, caching and its headers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from db.seed import SeedResult
from edge import keys
from edge.settings import EdgeSettings
from tests.db.helpers import call_as
from tests.edge.conftest import bearer, introduce, settle


def computations(app: Quart, endpoint: str) -> float:
    """Responses the database computed for this endpoint, read from the app's Prometheus registry."""
    value = app.extensions["edge"].metrics.registry.get_sample_value(
        "edge_db_computations_total", {"endpoint": endpoint}
    )
    return value or 0.0


async def test_dashboard_is_the_api_function_result(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    response = await client.get("/api/students/dashboard", headers=bearer(school.demo_student_id))
    body = await response.get_json()
    assert response.status_code == 200, body
    expected = call_as(db, school.demo_student_id, "select api.student_dashboard()")
    for field in (
        "studentId",
        "classId",
        "totalClasses",
        "attendanceRate",
        "presentDays",
        "absentDays",
        "sickDays",
        "leaveDays",
        "classAverage",
        "ranking",
        "trend",
    ):
        assert body[field] == expected[field], field
    assert body["source"] == "view" and body["stale"] is False and "cachedAt" in body
    assert response.headers["X-Cache"] == "MISS"
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert response.headers["X-RateLimit-Remaining"] == "99"


async def test_second_request_is_a_cache_hit_with_the_same_body(client: Client, school: SeedResult) -> None:
    headers = bearer(school.demo_student_id)
    await introduce(client, headers)
    first = await client.get("/api/students/dashboard", headers=headers)
    started = time.perf_counter()
    second = await client.get("/api/students/dashboard", headers=headers)
    elapsed = time.perf_counter() - started
    assert second.headers["X-Cache"] == "HIT"
    assert await second.get_json() == await first.get_json(), "P4: cache and database give the same body"
    assert elapsed < 0.2, "P1: a cached dashboard answers under the seed's 200 ms floor"
    assert "Age" in second.headers


async def test_request_id_is_echoed_or_generated(client: Client, school: SeedResult) -> None:
    given = await client.get(
        "/api/students/ranking", headers={**bearer(school.demo_student_id), "X-Request-ID": "abc-123"}
    )
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/api/students/ranking", headers=bearer(school.demo_student_id))
    assert made.headers["X-Request-ID"].startswith("req_")
    hostile = await client.get(
        "/api/students/ranking", headers={**bearer(school.demo_student_id), "X-Request-ID": "x" * 500}
    )
    assert hostile.headers["X-Request-ID"].startswith("req_")


async def test_stampede_on_a_cold_key_computes_once(app: Quart, client: Client, school: SeedResult) -> None:
    headers = bearer(school.demo_student_id)
    await settle(app)
    before = computations(app, "dashboard")
    responses = await asyncio.gather(
        *[client.get("/api/students/dashboard", headers=headers) for _ in range(200)]
    )
    assert {r.status_code for r in responses} == {200, 429} or {r.status_code for r in responses} == {200}
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 100, "the rate limit lets exactly 100 through"
    assert computations(app, "dashboard") - before == 1, "one database computation for the key"
    bodies = {json.dumps(await r.get_json(), sort_keys=True) for r in ok}
    assert len(bodies) == 1


async def test_invalidating_a_student_or_class_drops_their_entries(
    app: Quart, client: Client, school: SeedResult
) -> None:
    headers = bearer(school.demo_student_id)
    cache = app.extensions["edge"].cache
    await introduce(client, headers)
    for path in ("/api/students/dashboard", "/api/students/ranking", "/api/students/class-statistics"):
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "MISS"
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "HIT"
    await cache.invalidate_student(school.demo_student_id)
    for path in ("/api/students/dashboard", "/api/students/ranking", "/api/students/class-statistics"):
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "MISS", path
    body = await (await client.get("/api/students/dashboard", headers=headers)).get_json()
    await cache.invalidate_class(body["classId"])
    for path in ("/api/students/dashboard", "/api/students/ranking", "/api/students/class-statistics"):
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "MISS", path


async def test_stale_entries_are_served_while_one_refresh_runs(
    app: Quart, client: Client, school: SeedResult, settings: EdgeSettings
) -> None:
    headers = bearer(school.demo_student_id)
    await introduce(client, headers)
    await client.get("/api/students/dashboard", headers=headers)
    redis = Redis.from_url(settings.redis_url)
    key = keys.cached_response(str(school.demo_student_id), "dashboard")
    raw = redis.get(key)
    assert isinstance(raw, bytes)
    stamp, meta, body = raw.split(b"\n", 2)
    aged = json.dumps({**json.loads(meta), "freshUntil": 0}).encode()
    redis.set(key, b"\n".join((stamp, aged, body)), px=60_000)
    before = computations(app, "dashboard")
    stale = await asyncio.gather(*[client.get("/api/students/dashboard", headers=headers) for _ in range(20)])
    assert {r.headers["X-Cache"] for r in stale} == {"STALE"}
    assert all(r.headers["X-Data-Stale"] == "true" for r in stale)
    await app.extensions["edge"].responses.drain()
    assert computations(app, "dashboard") - before == 1, "twenty stale reads, one refresh"
    fresh = await client.get("/api/students/dashboard", headers=headers)
    assert fresh.headers["X-Cache"] == "HIT"


async def test_every_cached_student_endpoint_hits_on_the_second_request(
    client: Client, school: SeedResult
) -> None:
    """Once the process knows the student's class; the very first response that depends on the
    class is computed without being stored, since its class's generation could not be read
    before computing it."""
    headers = bearer(school.demo_student_id)
    await settle(client.app)
    first = await client.get("/api/students/class-statistics", headers=headers)
    assert first.headers["X-Cache"] == "MISS"
    for path in (
        "/api/students/attendance/weekly?week=2026-W40",
        "/api/students/class-statistics",
        "/api/students/ranking",
        "/api/students/dashboard",
        "/api/students/attendance/weekly?week=2026-W41",
    ):
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "MISS", path
        assert (await client.get(path, headers=headers)).headers["X-Cache"] == "HIT", path


async def test_a_stale_entry_the_caller_may_no_longer_see_is_dropped(
    app: Quart, client: Client, school: SeedResult, settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    """A teacher removed from a class: the stale entry is served once more while it is refreshed,
    the refresh is refused (403) and the entry goes, so the next request is refused too."""
    teacher = bearer(school.demo_teacher_id)
    [(class_id,)] = db.execute(
        "select class_id::text from app.class_teachers where teacher_id = %s", (school.demo_teacher_id,)
    ).fetchall()
    path = f"/api/classes/{class_id}/statistics"
    await settle(app)
    await client.get(path, headers=teacher)
    assert (await client.get(path, headers=teacher)).headers["X-Cache"] == "HIT"
    db.execute("delete from app.class_teachers where teacher_id = %s", (school.demo_teacher_id,))
    redis = Redis.from_url(settings.redis_url)
    key = keys.cached_response(str(school.demo_teacher_id), f"class:{class_id}:statistics")
    raw = redis.get(key)
    assert isinstance(raw, bytes)
    stamp, meta, body = raw.split(b"\n", 2)
    redis.set(key, b"\n".join((stamp, json.dumps({**json.loads(meta), "freshUntil": 0}).encode(), body)))
    assert (await client.get(path, headers=teacher)).headers["X-Cache"] == "STALE"
    await app.extensions["edge"].responses.drain()
    assert redis.get(key) is None
    assert (await client.get(path, headers=teacher)).status_code == 403


async def test_cache_service_operations(app: Quart) -> None:
    """The seed's CacheService interface over JSON values, on the real Redis."""
    cache = app.extensions["edge"].cache
    await cache.set("t:one", {"a": [1, 2.5, None]}, ttl_s=30)
    assert await cache.get("t:one") == {"a": [1, 2.5, None]}
    assert await cache.exists("t:one") and not await cache.exists("t:none")
    assert 0 < await cache.ttl("t:one") <= 30
    await cache.set("t:two", "text", ttl_s=30)
    assert await cache.mget(["t:one", "t:none", "t:two"]) == [{"a": [1, 2.5, None]}, None, "text"]
    assert await cache.increment("t:n") == 1 and await cache.increment("t:n", 5) == 6
    await cache.delete("t:one")
    assert await cache.get("t:one") is None


async def test_a_cache_hit_is_one_redis_command(
    client: Client, school: SeedResult, settings: EdgeSettings
) -> None:
    """Rate limit and cache lookup together: a hit sends Redis one command (EVALSHA), as MONITOR
    on the server sees it; the commands the script runs inside Redis show as `lua`."""
    headers = bearer(school.demo_student_id)
    await introduce(client, headers)
    await client.get("/api/students/dashboard", headers=headers)
    watcher, ender = AsyncRedis.from_url(settings.redis_url), AsyncRedis.from_url(settings.redis_url)
    marker = f"end-{time.time_ns()}"
    await ender.ping()  # connected before MONITOR starts, so its handshake is not seen
    sent: list[str] = []
    async with watcher.monitor() as monitor:
        response = await client.get("/api/students/dashboard", headers=headers)
        await ender.echo(marker)
        async for seen in monitor.listen():
            if marker in seen["command"]:
                break
            if seen["client_type"] != "lua":
                sent.append(seen["command"].split()[0].upper())
    await watcher.aclose()
    await ender.aclose()
    assert response.headers["X-Cache"] == "HIT"
    assert sent == ["EVALSHA"]
