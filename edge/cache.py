"""The response cache (stale-while-revalidate, single flight, O(1) invalidation by generation
numbers) and the seed's CacheService. Lookups happen in the request gate (edge.gate), in the
same round trip as the rate limit; this module says which keys a lookup reads and stores what
was computed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from edge import keys
from edge.errors import ApiError
from edge.guarded_redis import GuardedRedis, RedisUnavailable, lua_script

log = structlog.get_logger("edge")

Compute = Callable[[], Awaitable[dict[str, Any]]]


class CacheService:
    """The seed's cache interface over JSON values (used by jobs, invalidation and tests)."""

    INVALIDATE = lua_script("invalidate")

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
        """Every cached response about this student stops being read: one generation bump."""
        await self._bump(keys.student_generation(str(student_id)))

    async def invalidate_class(self, class_id: uuid.UUID | str) -> None:
        """Every cached response about this class, and its students' dashboards: one bump."""
        await self._bump(keys.class_generation(str(class_id)))

    async def invalidate(self, student_ids: Iterable[str], class_ids: Iterable[str]) -> None:
        """Every cached response about these students and classes stops being read: one round
        trip for all of them (a Redis Cluster would need one per slot)."""
        generations = [keys.student_generation(s) for s in student_ids]
        generations += [keys.class_generation(c) for c in class_ids]
        if generations:
            await self._r.run(lambda: self._r.channel.evalsha(self.INVALIDATE, generations, ()))

    async def _bump(self, generation: str) -> None:
        await self._r.run(lambda: self._r.channel.evalsha(self.INVALIDATE, [generation], ()))


@dataclass(frozen=True)
class CacheSpec:
    """One cacheable response: whose it is (`owner`, the caller, so that no response crosses
    users), which one (`name`), for how long, and what it is built from: a student's data, a
    class's figures, and/or the figures of the student's class, whichever class that is."""

    owner: str
    name: str
    ttl_s: int
    student_id: str = ""
    class_id: str = ""
    student_class: bool = False

    @property
    def key(self) -> str:
        return keys.cached_response(self.owner, self.name)


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


class ResponseCache:
    """Stores computed responses under the generations the lookup saw before computing them;
    computes each key once however many requests miss it; refreshes a stale entry once across
    processes."""

    # Entries stay readable (as stale) for this many TTLs after they stop being fresh.
    STALE_FACTOR = 3
    # One background refresh per key across processes within this time.
    REFRESH_LOCK_MS = 10_000
    # Students whose class this process remembers (a response names it).
    KNOWN_CLASSES = 100_000

    def __init__(self, redis: GuardedRedis) -> None:
        self._r = redis
        self._inflight: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._class_of: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def dumps(body: dict[str, Any]) -> bytes:
        """A response body exactly as sent, from cache or database alike: keys sorted."""
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    def lookup_keys(self, spec: CacheSpec) -> list[str]:
        """The keys the gate reads for this response: the entry, then the generations it
        depends on. The class of a student is known once a response of theirs named it."""
        out = [spec.key]
        if spec.student_id:
            out.append(keys.student_generation(spec.student_id))
        class_id = spec.class_id or (self._class_of.get(spec.student_id, "") if spec.student_class else "")
        if class_id:
            out.append(keys.class_generation(class_id))
        return out

    def _storable(self, spec: CacheSpec, stamp: str, body: dict[str, Any]) -> bool:
        """Was this body computed under generations the stamp names? Not when the lookup could
        not name the student's class (this process had not seen the student yet) or named
        another one: the body is served and not stored, and the class is remembered, so the
        next lookup reads the right class's generation before computing."""
        class_id = str(body.get("classId") or "") if spec.student_class else ""
        if not class_id:
            return True
        self.learn_class(spec.student_id, class_id)
        return keys.class_generation(class_id) in keys.stamped_generations(stamp)

    def learn_class(self, student_id: str, class_id: str) -> None:
        """Remember a student's class (a response or an open stream named it)."""
        self._class_of[student_id] = class_id
        self._class_of.move_to_end(student_id)
        if len(self._class_of) > self.KNOWN_CLASSES:
            self._class_of.popitem(last=False)

    async def store(self, spec: CacheSpec, stamp: str, body: dict[str, Any]) -> None:
        """Store a computed body under `stamp`, the generations the lookup saw before computing
        it: a generation bumped in between leaves the entry unread."""
        if not self._storable(spec, stamp, body):
            return
        now = int(time.time() * 1000)
        freshness = body.get("freshness") or {}
        meta = {
            "cachedAt": now,
            "freshUntil": now + spec.ttl_s * 1000,
            "stale": bool(body.get("stale")),
            "viewAge": freshness.get("ageSeconds"),
        }
        value = b"\n".join((stamp.encode(), orjson.dumps(meta), self.dumps(body)))
        ttl_ms = spec.ttl_s * 1000 * self.STALE_FACTOR
        try:
            await self._r.run(lambda: self._r.channel.execute("SET", spec.key, value, "PX", ttl_ms))
        except RedisUnavailable:
            pass

    async def single_flight(self, spec: CacheSpec, stamp: str, compute: Compute) -> dict[str, Any]:
        """Compute once per key and stamp in this process, however many requests miss at the same
        time; a request whose lookup saw newer generations does not join an older computation."""
        flight = (spec.key, stamp)
        task = self._inflight.get(flight)
        if task is None:
            task = asyncio.ensure_future(self._compute_and_store(spec, stamp, compute))
            self._inflight[flight] = task
            task.add_done_callback(lambda _: self._inflight.pop(flight, None))
        return await asyncio.shield(task)

    async def _compute_and_store(self, spec: CacheSpec, stamp: str, compute: Compute) -> dict[str, Any]:
        body = await compute()
        await self.store(spec, stamp, body)
        return body

    def refresh_in_background(self, spec: CacheSpec, stamp: str, compute: Compute) -> None:
        """A stale entry was served: refresh it once, across every process sharing Redis. If the
        caller may no longer see it (403, 404), the entry is dropped."""

        async def refresh() -> None:
            # The lock is left to expire rather than deleted: a read that found the entry stale
            # just before its successor was stored must not compute it again.
            lock = keys.refresh_lock(spec.key)
            try:
                won = await self._r.run(
                    lambda: self._r.channel.execute("SET", lock, "1", "NX", "PX", self.REFRESH_LOCK_MS)
                )
            except RedisUnavailable:
                return
            if not won:
                return
            try:
                await self.single_flight(spec, stamp, compute)
            except ApiError as error:
                if error.status in (403, 404):
                    with contextlib.suppress(RedisUnavailable):
                        await self._r.run(lambda: self._r.channel.execute("DEL", spec.key))
                else:
                    log.warning("background_refresh_failed", key=spec.key, status=error.status)
            except Exception:  # noqa: BLE001 - the stale entry stays; the next read after the lock retries
                log.warning("background_refresh_failed", key=spec.key, exc_info=True)

        if (spec.key, stamp) in self._inflight:
            return
        task = asyncio.ensure_future(refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background refreshes (at shutdown and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
