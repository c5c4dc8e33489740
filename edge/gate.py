"""The request gate: every request is counted against its bucket before anything else runs.

One Lua script on Redis's clock decides, and, for a cacheable read, looks the response up in
the same round trip (the lookup's keys come from edge.cache). While Redis is unavailable, a
per-process window decides instead and the cache is bypassed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from edge import keys
from edge.guarded_redis import GuardedRedis, RedisUnavailable, lua_script
from edge.observability import unique_id
from edge.ratelimit import Decision, Limit, LocalLimiter


@dataclass(frozen=True)
class Admission:
    """The gate's answer: the decision and, when a lookup was asked for, what the cache holds."""

    decision: Decision
    now_ms: int
    # The generations the lookup saw, for storing what is computed now ('' without a lookup).
    stamp: str = ""
    # The cached value when it is current, else None.
    value: bytes | None = None
    # Redis was unavailable: the per-process window decided and there is no cache.
    bypass: bool = False


class Gate:
    SCRIPT = lua_script("gate")

    def __init__(self, redis: GuardedRedis, limits: dict[str, Limit]) -> None:
        self._r = redis
        self.limits = limits
        self._local = LocalLimiter()

    async def admit(self, bucket: str, identity: str, lookup: Sequence[str] = ()) -> Admission:
        """Count one request of `identity` against `bucket`; `lookup` = the cached response's key
        followed by the generation keys it depends on (edge.cache.ResponseCache.lookup_keys)."""
        limit = self.limits[bucket]
        script_keys = [keys.rate_window(bucket, identity), keys.rate_violation(bucket, identity), *lookup]
        args = (limit.requests, limit.window_s * 1000, unique_id())
        try:
            out = await self._r.run(lambda: self._r.channel.evalsha(self.SCRIPT, script_keys, args))
        except RedisUnavailable:
            return Admission(self._local.check(limit, identity), int(time.time() * 1000), bypass=True)
        allowed, count, reset_ms, retry_ms, first, now_ms, stamp, value = out
        decision = Decision(
            allowed=bool(allowed),
            limit=limit.requests,
            remaining=max(limit.requests - int(count), 0),
            reset_at_s=int(reset_ms) / 1000,
            retry_after_s=max(int(-(-int(retry_ms) // 1000)), 1) if not allowed else 0,
            first_violation=bool(first),
        )
        return Admission(decision, int(now_ms), stamp.decode() if stamp else "", value or None)

    async def reset(self, identity: str) -> list[str]:
        """Forget every window of one identity, in Redis and in this process; the buckets."""
        buckets = sorted(self.limits)
        self._local.reset(identity)
        try:
            await self._r.run(lambda: self._r.client.delete(*keys.rate_keys(identity, buckets)))
        except RedisUnavailable:
            pass
        return buckets
