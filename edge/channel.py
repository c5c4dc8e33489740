"""One multiplexed Redis connection for the call every request makes (rate limit + cache lookup).

redis-py checks a connection out of its pool for each command and pays a write, a read and a
timeout of its own per request. Here the requests of one process share one connection:
commands issued in the same event-loop turn leave in one write, Redis answers in order, hiredis
parses the replies, and one watchdog stands in for per-call timeouts (replies come in order, so
when the oldest one is late the connection is stuck, and every caller waiting on it fails).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ResponseError


def _pack(command: tuple[str | int | bytes, ...]) -> bytes:
    # hiredis's stub types its argument as a one-element tuple; any tuple of these is packed.
    packed: bytes = hiredis.pack_command(cast(Any, command))
    return packed


class ChannelError(ConnectionError):
    """The connection failed, closed or stopped answering; the command may not have run."""


class _Protocol(asyncio.Protocol):
    def __init__(self, channel: RedisChannel) -> None:
        self.channel = channel
        self.reader = hiredis.Reader()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.channel.pending
        try:
            reply = self.reader.gets()
            while reply is not False:
                if not pending:
                    raise ChannelError("Redis sent a reply nobody asked for")
                future, _ = pending.popleft()
                if not future.done():
                    future.set_result(reply)
                reply = self.reader.gets()
        except (hiredis.ProtocolError, ChannelError) as exc:
            self.channel.abort(ChannelError(f"Redis protocol error: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.channel.lost(self, exc)


class RedisChannel:
    """Commands over one shared connection, opened on first use and reopened after a failure."""

    def __init__(self, url: str, *, timeout_s: float = 1.0, connect_timeout_s: float = 1.0) -> None:
        options = parse_url(url)
        self.host = str(options.get("host") or "127.0.0.1")
        self.port = int(options.get("port") or 6379)
        self._username: str | None = options.get("username")
        self._password: str | None = options.get("password")
        self._db = int(options.get("db") or 0)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.pending: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._protocol: _Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._opening: asyncio.Task[None] | None = None
        self._outgoing: list[bytes] = []
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False

    async def execute(self, *args: str | int | bytes) -> Any:
        """One command; its reply (bytes, int, list, None). ResponseError for an error reply."""
        if self._transport is None:
            await self._open()
        reply = await self._send(_pack(args))
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    async def evalsha(self, script: Script, keys: list[str], args: Sequence[str | int | bytes]) -> Any:
        """Run a Lua script by its digest, sending its text once if Redis does not know it yet."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script.text, len(keys), *keys, *args)

    def _send(self, packed: bytes) -> asyncio.Future[Any]:
        if self._transport is None:
            raise ChannelError("the connection to Redis was lost")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((future, loop.time()))
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(packed)
        return future

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self._transport is not None and data:
            self._transport.write(data)

    async def _open(self) -> None:
        if self._closed:
            raise ChannelError("the channel is closed")
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
            self._opening.add_done_callback(self._opened)
        await asyncio.shield(self._opening)

    def _opened(self, task: asyncio.Task[None]) -> None:
        self._opening = None
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter gets it from the shield

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                transport, protocol = await loop.create_connection(
                    lambda: _Protocol(self), self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            raise ChannelError(f"cannot connect to Redis at {self.host}:{self.port}: {exc}") from exc
        self._transport, self._protocol = transport, protocol
        if self._watchdog is None:
            self._watchdog = asyncio.ensure_future(self._watch())
        handshake: list[tuple[str | int, ...]] = []
        if self._password is not None:
            handshake.append(
                ("AUTH", self._username, self._password) if self._username else ("AUTH", self._password)
            )
        if self._db:
            handshake.append(("SELECT", self._db))
        replies = [self._send(_pack(command)) for command in handshake]
        for reply in replies:
            if isinstance(await reply, hiredis.ReplyError):
                self.abort(ChannelError("Redis refused the connection's credentials or database"))
                raise ChannelError("Redis refused the connection's credentials or database")

    async def _watch(self) -> None:
        """Close a connection whose oldest outstanding reply is later than the timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.timeout_s / 4)
            if self.pending and loop.time() - self.pending[0][1] > self.timeout_s:
                self.abort(ChannelError(f"Redis did not answer within {self.timeout_s} s"))

    def abort(self, error: ChannelError) -> None:
        """Drop the connection; every command waiting on it fails with this error."""
        transport, self._transport, self._protocol = self._transport, None, None
        self._outgoing = []
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(error)
        if transport is not None:
            transport.abort()

    def lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is self._protocol:
            self.abort(ChannelError(f"the connection to Redis was lost: {exc or 'closed by the server'}"))

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        self.abort(ChannelError("the channel is closed"))


class Script:
    """A Lua script's text and its SHA-1 digest (EVALSHA's name for it)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
