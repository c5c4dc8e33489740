"""The event streams open in this process: who listens to what, a bounded queue each, the SSE
wire format, and the record of every stream in Redis (so the count is known across processes).

A stream is registered before anything is sent on it, with the position after which it wants
events (its floor). The bridge (edge.outbox) hands every batch of events to the hub, which
queues each event for the streams of its student; then the dashboards of the streams whose
student or class the batch touched, as one metrics_update each. One ticker per process sends
the heartbeats, refreshes the Redis records, and ends streams whose token expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from edge import keys
from edge.guarded_redis import GuardedRedis, RedisUnavailable
from edge.observability import unique_id

log = structlog.get_logger("edge")

# A comment line this often keeps proxies from closing an idle stream, and shows a dead peer.
HEARTBEAT_S = 15.0
# A stream's Redis record outlives its last heartbeat by this much: a process that died takes
# its records with it within this time (P10).
RECORD_TTL_S = 30
# Bytes a stream may have waiting; a reader this far behind is cut off (it reconnects and
# resumes after its last id).
QUEUE_BYTES = 1024 * 1024
# The client's reconnection delay: this much, plus up to RETRY_JITTER_MS, so that the clients
# of a process that went away do not all come back in the same millisecond.
RETRY_MS = 2000
RETRY_JITTER_MS = 2000

PING = b": ping\n\n"


def message(
    event: str | None, data: Any = None, position: str | None = None, retry_ms: int | None = None
) -> bytes:
    """One SSE message: retry, id and event lines, then the JSON data on one line."""
    lines = []
    if retry_ms is not None:
        lines.append(b"retry: %d" % retry_ms)
    if position is not None:
        lines.append(b"id: " + position.encode())
    if event is not None:
        lines.append(b"event: " + event.encode())
    if data is not None:
        lines.append(
            b"data: " + (data if isinstance(data, bytes) else orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        )
    return b"\n".join(lines) + b"\n\n"


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def retry_ms() -> int:
    return RETRY_MS + random.randrange(RETRY_JITTER_MS)  # noqa: S311 - jitter, not a secret


# Topics a student's stream gets as they are, and topics after which it gets a fresh dashboard
# (inbox_changed only invalidates cached answers).
SENT_AS_IS = ("attendance_update", "reset", "notification")
MOVES_FIGURES = ("attendance_update", "class_figures", "reset")


@dataclass(eq=False, slots=True)
class Stream:
    """One open stream. Events at or before `floor` are not sent: the client has them (the
    floor is final once a resumed stream's replay is done, before anything queued is sent)."""

    id: str
    student_id: str
    class_id: str
    floor: str
    expires_at: float
    limit_bytes: int = QUEUE_BYTES
    created_at: float = field(default_factory=time.time)
    closed: str = ""
    # The newest position queued: a message never carries an older id than one sent before it.
    last_position: str = ""
    _queue: deque[tuple[str, bytes]] = field(default_factory=deque)
    _queued_bytes: int = 0
    _waiter: asyncio.Future[None] | None = None
    # The task that sends this stream's response: cancelled when the stream overflows, since it
    # may be blocked writing to a peer that does not read.
    sender: asyncio.Task[Any] | None = None

    def push(self, chunk: bytes, position: str = "") -> None:
        if self.closed:
            return
        self._queued_bytes += len(chunk)
        if self._queued_bytes > self.limit_bytes:
            self.close("overflow")
            return
        self._queue.append((position, chunk))
        if position > self.last_position:
            self.last_position = position
        self._wake()

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = reason
            self._queue.clear()
            self._queued_bytes = 0
            self._wake()
            if reason == "overflow" and self.sender is not None and self.sender is not _current_task():
                self.sender.cancel()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> bytes | None:
        """Everything queued after the floor, in one chunk; None once the stream is closed."""
        while True:
            while not self._queue:
                if self.closed:
                    return None
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            if self.closed:
                return None
            floor = self.floor
            chunk = b"".join(c for p, c in self._queue if not p or p > floor)
            self._queue.clear()
            self._queued_bytes = 0
            if chunk:
                return chunk


@dataclass(frozen=True, slots=True)
class Event:
    """One outbox row as the bridge read it; the payload is its JSON text."""

    position: str
    topic: str
    student_id: str | None
    class_id: str | None
    payload: bytes


class Hub:
    """The streams of this process by student and by class."""

    def __init__(
        self, redis: GuardedRedis, record_ttl_s: int = RECORD_TTL_S, queue_bytes: int = QUEUE_BYTES
    ) -> None:
        self._r = redis
        self.queue_bytes = queue_bytes
        self.record_ttl_ms = record_ttl_s * 1000
        self.by_student: dict[str, set[Stream]] = {}
        self.by_class: dict[str, set[Stream]] = {}
        # The position through which the bridge has handed events over; None until it has read.
        self.cursor: str | None = None
        self.active_everywhere = 0
        self._ticker: asyncio.Task[None] | None = None
        self._records: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return sum(len(s) for s in self.by_student.values())

    def streams(self) -> Iterable[Stream]:
        return itertools.chain.from_iterable(list(s) for s in self.by_student.values())

    def open(self, student_id: str, class_id: str, floor: str, expires_at: float) -> Stream:
        stream = Stream(unique_id(), student_id, class_id, floor, expires_at, self.queue_bytes)
        self.by_student.setdefault(student_id, set()).add(stream)
        self.by_class.setdefault(class_id, set()).add(stream)
        self._in_background(self._record(stream))
        return stream

    def close(self, stream: Stream, reason: str = "closed") -> None:
        stream.close(reason)
        for index, key in ((self.by_student, stream.student_id), (self.by_class, stream.class_id)):
            members = index.get(key)
            if members is not None:
                members.discard(stream)
                if not members:
                    del index[key]
        self._in_background(self._forget(stream))

    def listeners(self, events: Iterable[Event]) -> dict[Stream, str]:
        """Each stream the events concern (its student's records, its class's figures), with
        the last position that concerns it."""
        touched: dict[Stream, str] = {}
        for e in events:
            if e.topic not in MOVES_FIGURES:
                continue
            for index, key in ((self.by_student, e.student_id), (self.by_class, e.class_id)):
                for stream in index.get(key or "", ()):
                    touched[stream] = e.position
        return touched

    def deliver(self, events: list[Event]) -> None:
        """Queue each event of a batch, in order, on the streams of its student."""
        for e in events:
            if e.topic in SENT_AS_IS and e.student_id:
                streams = self.by_student.get(e.student_id)
                if streams:
                    chunk = message(e.topic, e.payload, e.position)
                    for stream in list(streams):
                        stream.push(chunk, e.position)
        if events:
            self.cursor = events[-1].position

    def deliver_metrics(self, touched: dict[Stream, str], dashboards: dict[str, bytes]) -> None:
        """One metrics_update per stream the events concerned, with its student's dashboard
        computed after them. Its id is the last position that concerned the stream, or a newer
        one the stream was sent meanwhile (ids never go back, or a resuming client would get
        events twice); those newer events are followed by dashboards of their own."""
        for stream, position in touched.items():
            body = dashboards.get(stream.student_id)
            if body is not None and not stream.closed:
                position = max(position, stream.last_position)
                stream.push(message("metrics_update", body, position), position)

    def end_all(self, reason: str) -> None:
        for stream in list(self.streams()):
            stream.close(reason)

    # Redis records, the ticker ------------------------------------------------------------

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._records.add(task)
        task.add_done_callback(self._records.discard)

    async def _record(self, stream: Stream) -> None:
        now_ms = int(time.time() * 1000)
        key = keys.sse_connection(stream.id)
        with contextlib.suppress(RedisUnavailable):
            await self._r.run(
                lambda: self._r.channel.execute(
                    "HSET",
                    key,
                    "studentId",
                    stream.student_id,
                    "classId",
                    stream.class_id,
                    "createdAt",
                    str(int(stream.created_at * 1000)),
                    "lastPing",
                    str(now_ms),
                )
            )
            await self._r.run(lambda: self._r.channel.execute("PEXPIRE", key, self.record_ttl_ms))
            await self._r.run(
                lambda: self._r.channel.execute(
                    "ZADD", keys.SSE_CONNECTIONS, str(now_ms + self.record_ttl_ms), stream.id
                )
            )

    async def _forget(self, stream: Stream) -> None:
        with contextlib.suppress(RedisUnavailable):
            await self._r.run(lambda: self._r.channel.execute("DEL", keys.sse_connection(stream.id)))
            await self._r.run(lambda: self._r.channel.execute("ZREM", keys.SSE_CONNECTIONS, stream.id))

    async def beat(self) -> None:
        """One heartbeat: a ping on every stream, expired tokens ended, records refreshed, the
        count across processes read."""
        now = time.time()
        now_ms = int(now * 1000)
        alive = []
        for stream in list(self.streams()):
            if stream.expires_at <= now:
                self.close(stream, "token_expired")
                continue
            stream.push(PING)
            alive.append(stream)
        try:
            commands = []
            for stream in alive:
                key = keys.sse_connection(stream.id)
                commands.append(self._r.channel.execute("HSET", key, "lastPing", str(now_ms)))
                commands.append(self._r.channel.execute("PEXPIRE", key, self.record_ttl_ms))
                commands.append(
                    self._r.channel.execute(
                        "ZADD", keys.SSE_CONNECTIONS, str(now_ms + self.record_ttl_ms), stream.id
                    )
                )

            async def refresh() -> Any:
                await asyncio.gather(*commands)
                await self._r.channel.execute("ZREMRANGEBYSCORE", keys.SSE_CONNECTIONS, "-inf", str(now_ms))
                return await self._r.channel.execute("ZCARD", keys.SSE_CONNECTIONS)

            self.active_everywhere = int(await self._r.run(refresh))
        except RedisUnavailable:
            for command in commands:
                command.close()

    async def start(self, every_s: float = HEARTBEAT_S) -> None:
        async def tick() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await self.beat()
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.warning("stream_heartbeat_failed", exc_info=True)

        self._ticker = asyncio.create_task(tick())

    async def stop(self) -> None:
        self.end_all("shutdown")
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._records:
            await asyncio.gather(*list(self._records), return_exceptions=True)
