"""Operations endpoints: liveness, readiness (with what is degraded) and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response
from quart_schema import document_response, hide

from edge.schemas import Health, Readiness
from edge.serving import state

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
@document_response(Health, 200)
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies."""
    return {"status": "ok"}


async def _timed(check: Callable[[], Awaitable[Any]], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


@ops.get("/readyz")
@document_response(Readiness, 200)
@document_response(Readiness, 503)
async def readyz() -> tuple[dict[str, Any], int]:
    """Postgres reachable (else 503); Redis reachable (else degraded); pools, circuits, what is off."""
    s = state()
    timeout = s.settings.readiness_timeout_s

    async def database() -> None:
        async with s.db.pool.connection(timeout=timeout) as conn:
            await conn.execute("select 1")

    async def cache() -> None:
        await s.redis.client.ping()

    db_check, redis_check = await asyncio.gather(_timed(database, timeout), _timed(cache, timeout))
    pool = s.db.pool.get_stats()
    degraded = sorted(s.resources.degraded)
    if not redis_check["ok"] or s.redis.breaker.state != "closed":
        degraded.append("cache")
    # Without the events bridge, streams get nothing new (clients can poll /api/students/events).
    if not s.bridge.connected:
        degraded.append("live_updates")
    # Without Redis the edge still serves (from Postgres, per-process limits): degraded, not down.
    if not db_check["ok"]:
        status = "not_ready"
    elif degraded:
        status = "degraded"
    else:
        status = "ready"
    body = {
        "status": status,
        "checks": {"database": db_check, "redis": redis_check},
        "pool": {
            "size": pool.get("pool_size", 0),
            "available": pool.get("pool_available", 0),
            "waiting": pool.get("requests_waiting", 0),
            "min": s.settings.db_pool_min,
            "max": s.settings.db_pool_max,
        },
        "circuits": {s.redis.breaker.name: s.redis.breaker.state},
        "degraded": degraded,
        "resources": {"cpuPercent": s.resources.cpu_percent, "memoryPercent": s.resources.memory_percent},
    }
    return body, 503 if status == "not_ready" else 200


@ops.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text format."""
    s = state()
    s.metrics.circuit_open.labels(s.redis.breaker.name).set(1 if s.redis.breaker.state == "open" else 0)
    for feature in ("exports", "ranking_refresh"):
        s.metrics.degraded.labels(feature).set(0 if s.resources.enabled(feature) else 1)
    return Response(generate_latest(s.metrics.registry), content_type=CONTENT_TYPE_LATEST)
