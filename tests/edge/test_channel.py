"""The multiplexed Redis channel, against real redis-servers: replies reach the right callers,
scripts survive SCRIPT FLUSH, and a dead or stuck server fails callers fast, then recovers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from redis import Redis
from redis.exceptions import ResponseError

from edge.channel import ChannelError, RedisChannel, Script
from stack.redis_server import EmbeddedRedis


@pytest.fixture
async def channel(redis_url: str) -> AsyncIterator[RedisChannel]:
    ch = RedisChannel(redis_url, timeout_s=1.0)
    yield ch
    await ch.close()


def connections(observer: Redis) -> tuple[int, int]:
    """Clients connected now (the observer included) and connections the server ever accepted."""
    clients, stats = observer.info("clients"), observer.info("stats")
    return int(clients["connected_clients"]), int(stats["total_connections_received"])


async def test_concurrent_commands_share_one_connection_and_get_their_own_replies(
    channel: RedisChannel, redis_url: str
) -> None:
    observer = Redis.from_url(redis_url)
    connected, accepted = connections(observer)
    values = [f"v{i}".encode() * (i % 7 + 1) for i in range(2000)]
    replies = await asyncio.gather(*(channel.execute("ECHO", v) for v in values))
    assert replies == values
    assert connections(observer) == (connected + 1, accepted + 1), (
        "the server accepted one connection for the 2,000 calls, and it is still open"
    )
    observer.close()


async def test_replies_keep_their_types_and_errors_name_the_problem(channel: RedisChannel) -> None:
    await channel.execute("DEL", "ch:list")
    assert await channel.execute("RPUSH", "ch:list", "a", "b") == 2
    assert await channel.execute("LRANGE", "ch:list", 0, -1) == [b"a", b"b"]
    assert await channel.execute("GET", "ch:missing") is None
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await channel.execute("INCR", "ch:list")
    assert await channel.execute("PING") == b"PONG", "an error reply leaves the connection usable"


async def test_a_script_is_sent_again_after_redis_forgets_it(channel: RedisChannel) -> None:
    script = Script("return {KEYS[1], ARGV[1] + 1}")
    assert await channel.evalsha(script, ["k"], [41]) == [b"k", 42]
    await channel.execute("SCRIPT", "FLUSH")
    assert await channel.evalsha(script, ["k"], [1]) == [b"k", 2]
    assert await channel.execute("SCRIPT", "EXISTS", script.sha) == [1]


async def test_a_wrong_password_is_refused_without_hanging(redis_server: EmbeddedRedis) -> None:
    url = f"redis://:{quote('not-the-password')}@127.0.0.1:{redis_server.port}/0"
    ch = RedisChannel(url, timeout_s=1.0)
    try:
        with pytest.raises(ChannelError, match="credentials"):
            await ch.execute("PING")
    finally:
        await ch.close()


async def test_a_stopped_server_fails_callers_and_a_restarted_one_is_used_again(
    own_redis: EmbeddedRedis,
) -> None:
    ch = RedisChannel(own_redis.url(), timeout_s=1.0, connect_timeout_s=0.5)
    try:
        assert await ch.execute("SET", "k", "1") == b"OK"
        own_redis.stop()
        for _ in range(3):
            with pytest.raises(ChannelError):
                await ch.execute("GET", "k")
        own_redis.start()
        assert await ch.execute("PING") == b"PONG"
    finally:
        await ch.close()


async def test_a_server_that_stops_answering_fails_every_waiting_caller_within_the_timeout(
    own_redis: EmbeddedRedis,
) -> None:
    ch = RedisChannel(own_redis.url(), timeout_s=0.5)
    pid = int(own_redis.pidfile.read_text())
    try:
        assert await ch.execute("PING") == b"PONG"
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            results = await asyncio.gather(*(ch.execute("PING") for _ in range(50)), return_exceptions=True)
            waited = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert all(isinstance(r, ChannelError) for r in results), results[:3]
        assert 0.5 <= waited < 2.0, f"callers waited {waited:.2f} s for a 0.5 s timeout"
        assert await ch.execute("PING") == b"PONG", "a new connection once the server answers again"
    finally:
        await ch.close()


async def test_a_closed_channel_refuses_new_commands(redis_url: str) -> None:
    ch = RedisChannel(redis_url)
    assert await ch.execute("PING") == b"PONG"
    await ch.close()
    with pytest.raises(ChannelError, match="closed"):
        await ch.execute("PING")
