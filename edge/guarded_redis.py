"""Redis behind a circuit breaker: the redis-py client for occasional commands and the
multiplexed channel for the scripts every request runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from edge.breaker import CircuitBreaker
from edge.channel import RedisChannel, Script

T = TypeVar("T")
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisUnavailable(Exception):  # noqa: N818 - a state, not a bug
    """Redis failed or its circuit is open: the caller serves without it."""


def lua_script(name: str) -> Script:
    """One of the project's Lua scripts (edge/lua/<name>.lua)."""
    return Script(files("edge").joinpath("lua", f"{name}.lua").read_text())


class GuardedRedis:
    """Every Redis call goes through the breaker; while it is open no call is attempted."""

    def __init__(self, client: Redis, channel: RedisChannel, breaker: CircuitBreaker) -> None:
        self.client = client
        self.channel = channel
        self.breaker = breaker

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
