"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quart import Blueprint, current_app
from redis.asyncio import Redis

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about its dependencies."""
    return {"status": "ok"}


async def _timed(check: Any, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}


@ops.get("/readyz")
async def readyz() -> tuple[dict[str, Any], int]:
    """Postgres and Redis are reachable; 503 names what is not."""
    pool: AsyncConnectionPool = current_app.extensions["db_pool"]
    redis: Redis = current_app.extensions["redis"]
    timeout = current_app.config["SETTINGS"].readiness_timeout_s

    async def database() -> None:
        async with pool.connection(timeout=timeout) as conn:
            await conn.execute("select 1")

    async def cache() -> None:
        await redis.ping()

    db_check, redis_check = await asyncio.gather(_timed(database, timeout), _timed(cache, timeout))
    ready = db_check["ok"] and redis_check["ok"]
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {"database": db_check, "redis": redis_check},
    }
    return body, 200 if ready else 503
