"""Redis: the guarded client (circuit breaker), the seed's CacheService, and the response cache
(stale-while-revalidate with single flight, O(1) invalidation by generation numbers)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, TypeVar

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from edge.breaker import CircuitBreaker
from edge.channel import RedisChannel, Script
from edge.observability import unique_id
from edge.ratelimit import Decision, Limit, LocalLimiter, rate_key

log = structlog.get_logger("edge")
T = TypeVar("T")
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisUnavailable(Exception):  # noqa: N818 - a state, not a bug
    """Redis failed or its circuit is open: the caller serves without it."""


class GuardedRedis:
    """Every Redis call goes through the breaker; while it is open no call is attempted."""

    def __init__(self, client: Redis, channel: RedisChannel, breaker: CircuitBreaker) -> None:
        # The client serves occasional commands; the channel, the two scripts every read runs.
        self.client = client
        self.channel = channel
        self.breaker = breaker
        lua = files("edge").joinpath("lua")
        self.limit_and_get = Script(lua.joinpath("limit_and_get.lua").read_text())
        self.store = Script(lua.joinpath("store.lua").read_text())

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.allow():
            raise RedisUnavailable(f"circuit {self.breaker.name} is open")
        try:
            result = await call()
        except REDIS_FAILURES as exc:
            self.breaker.record_failure()
            raise RedisUnavailable(str(exc)) from exc
        self.breaker.record_success()
        return result


class CacheService:
    """The seed's cache interface over JSON values (used by jobs, invalidation and tests)."""

    def __init__(self, redis: GuardedRedis) -> None:
        self._r = redis

    async def get(self, key: str) -> Any:
        raw = await self._r.run(lambda: self._r.client.get(key))
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl_s: int) -> None:
        await self._r.run(lambda: self._r.client.set(key, json.dumps(value), ex=ttl_s))

    async def delete(self, key: str) -> None:
        await self._r.run(lambda: self._r.client.delete(key))

    async def mget(self, keys: list[str]) -> list[Any]:
        raws = await self._r.run(lambda: self._r.client.mget(keys))
        return [None if raw is None else json.loads(raw) for raw in raws]

    async def exists(self, key: str) -> bool:
        return bool(await self._r.run(lambda: self._r.client.exists(key)))

    async def ttl(self, key: str) -> int:
        return int(await self._r.run(lambda: self._r.client.ttl(key)))

    async def increment(self, key: str, amount: int = 1) -> int:
        return int(await self._r.run(lambda: self._r.client.incrby(key, amount)))

    async def invalidate_student(self, student_id: uuid.UUID | str) -> None:
        """Every cached response about this student stops being read: one INCR."""
        await self.increment(f"gen:s:{student_id}")

    async def invalidate_class(self, class_id: uuid.UUID | str) -> None:
        """Every cached response about this class, and its students' dashboards: one INCR."""
        await self.increment(f"gen:c:{class_id}")


@dataclass(frozen=True)
class CacheSpec:
    """What to cache: `prefix` always names the caller, so no response crosses users."""

    prefix: str
    ttl_s: int
    student_id: str = ""
    class_id: str = ""


@dataclass(frozen=True)
class Entry:
    """A cached response: its metadata, and the body exactly as it is sent."""

    cached_at_ms: int
    fresh_until_ms: int
    stale: bool
    view_age_s: int | None
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Entry:
        meta, _, body = raw.partition(b"\n")
        m = orjson.loads(meta)
        return cls(int(m["cachedAt"]), int(m["freshUntil"]), bool(m["stale"]), m.get("viewAge"), body)


@dataclass(frozen=True)
class Lookup:
    decision: Decision
    key: str
    entry: Entry | None
    now_ms: int
    bypass: bool


class ResponseCache:
    """Rate limit + cache lookup in one round trip, stale-while-revalidate, single flight."""

    # Entries stay readable (as stale) for this many TTLs after they stop being fresh.
    STALE_FACTOR = 3
    # One background refresh per key across processes within this time.
    REFRESH_LOCK_MS = 10_000

    def __init__(self, redis: GuardedRedis, local: LocalLimiter) -> None:
        self._r = redis
        self._local = local
        self._inflight: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    @staticmethod
    def dumps(body: dict[str, Any]) -> bytes:
        """A response body exactly as sent, from cache or database alike: keys sorted."""
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    async def lookup(self, limit: Limit, identity: str, spec: CacheSpec | None) -> Lookup:
        args: list[str | int] = [
            limit.requests,
            limit.window_s * 1000,
            unique_id(),
            spec.prefix if spec else "",
            spec.student_id if spec else "",
            spec.class_id if spec else "",
        ]
        keys = [rate_key(limit.bucket, identity), rate_key(limit.bucket, identity) + ":violated"]
        try:
            out = await self._r.run(lambda: self._r.channel.evalsha(self._r.limit_and_get, keys, args))
        except RedisUnavailable:
            return Lookup(self._local.check(limit, identity), "", None, int(time.time() * 1000), True)
        allowed, count, reset_ms, retry_ms, first, now_ms, key, value = out
        decision = Decision(
            allowed=bool(allowed),
            limit=limit.requests,
            remaining=max(limit.requests - int(count), 0),
            reset_at_s=int(reset_ms) / 1000,
            retry_after_s=max(int(-(-int(retry_ms) // 1000)), 1) if not allowed else 0,
            first_violation=bool(first),
        )
        entry = Entry.parse(value) if value else None
        key = key.decode() if isinstance(key, bytes) else str(key)
        return Lookup(decision, key, entry, int(now_ms), False)

    async def store(self, spec: CacheSpec, body: dict[str, Any], class_id: str = "") -> None:
        now = int(time.time() * 1000)
        freshness = body.get("freshness") or {}
        meta = {
            "cachedAt": now,
            "freshUntil": now + spec.ttl_s * 1000,
            "stale": bool(body.get("stale")),
            "viewAge": freshness.get("ageSeconds"),
        }
        args: list[str | int | bytes] = [
            spec.prefix,
            spec.student_id,
            spec.class_id or class_id,
            orjson.dumps(meta) + b"\n" + self.dumps(body),
            spec.ttl_s * 1000 * self.STALE_FACTOR,
        ]
        try:
            await self._r.run(lambda: self._r.channel.evalsha(self._r.store, [], args))
        except RedisUnavailable:
            pass

    async def single_flight(
        self,
        spec: CacheSpec,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        class_of: Callable[[dict[str, Any]], str],
    ) -> dict[str, Any]:
        """Compute once per key in this process, however many requests miss at the same time."""
        task = self._inflight.get(spec.prefix)
        if task is None:
            task = asyncio.ensure_future(self._compute_and_store(spec, compute, class_of))
            self._inflight[spec.prefix] = task
            task.add_done_callback(lambda _: self._inflight.pop(spec.prefix, None))
        return await asyncio.shield(task)

    async def _compute_and_store(
        self,
        spec: CacheSpec,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        class_of: Callable[[dict[str, Any]], str],
    ) -> dict[str, Any]:
        body = await compute()
        await self.store(spec, body, class_of(body))
        return body

    def refresh_in_background(
        self,
        spec: CacheSpec,
        compute: Callable[[], Awaitable[dict[str, Any]]],
        class_of: Callable[[dict[str, Any]], str],
    ) -> None:
        """A stale entry was served: refresh it once, across every process sharing Redis."""

        async def refresh() -> None:
            # The lock is left to expire rather than deleted: a read that found the entry stale
            # just before its successor was stored must not compute it again.
            try:
                won = await self._r.run(
                    lambda: self._r.channel.execute(
                        "SET", f"lock:{spec.prefix}", "1", "NX", "PX", self.REFRESH_LOCK_MS
                    )
                )
            except RedisUnavailable:
                return
            if won:
                try:
                    await self.single_flight(spec, compute, class_of)
                except Exception:  # noqa: BLE001 - the stale entry stays; the next read after the lock retries
                    log.warning("background_refresh_failed", key=spec.prefix, exc_info=True)

        if spec.prefix in self._inflight:
            return
        task = asyncio.ensure_future(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background refreshes (at shutdown and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
