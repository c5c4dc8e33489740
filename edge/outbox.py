"""The bridge from the database's events outbox to this process: one per process, on its own
autocommit connection outside the request pool.

It LISTENs first, then catches up from its cursor, then follows: it reads whenever a
notification arrives and at least every `poll_s` seconds, so a lost notification or a dropped
connection delays an event, never loses it. For each batch it first invalidates the cached
responses of every student and class the batch touched (one generation bump each), then hands
the events to the hub. A task of its own, on a second connection, then computes the dashboards
of the connected students concerned in one database call (stored in the response cache, so
their next GET is a HIT) and sends them, while events keep flowing.

Where it starts: the position through which some process last invalidated (kept in Redis), so
changes committed while no edge ran are invalidated too. Without one (a new Redis, or the key
was evicted), from the events of the last CATCH_UP_S seconds: a cached response older than that
has expired, so no older event can have left one stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row

from edge import keys
from edge.cache import CacheService, CacheSpec, ResponseCache
from edge.guarded_redis import GuardedRedis, RedisUnavailable
from edge.streams import Event, Hub, Stream

log = structlog.get_logger("edge")

# The dashboard a metrics_update carries is the GET /api/students/dashboard body, cached alike.
DASHBOARD_TTL_S = 120
# How the bridge's connections show in pg_stat_activity: the reader, and the dashboards'.
APPLICATION_NAME = "edge-events"
DASHBOARDS_APPLICATION_NAME = "edge-events-dashboards"
# Longer than any cached response lives (the longest TTL, 300 s, times ResponseCache.STALE_FACTOR).
CATCH_UP_S = 3600


def dashboard_spec(student_id: str) -> CacheSpec:
    """The cache entry of a student's GET /api/students/dashboard."""
    return CacheSpec(student_id, "dashboard", DASHBOARD_TTL_S, student_id=student_id, student_class=True)


class Bridge:
    def __init__(
        self,
        url: str,
        hub: Hub,
        redis: GuardedRedis,
        cache: CacheService,
        responses: ResponseCache,
        enrich: Any,
        *,
        poll_s: float = 1.0,
        min_interval_s: float = 0.02,
        batch: int = 5000,
        retry_s: float = 1.0,
    ) -> None:
        self._url = url
        self.hub = hub
        self._r = redis
        self._cache = cache
        self._responses = responses
        self._enrich = enrich
        self.poll_s = poll_s
        self.min_interval_s = min_interval_s
        self.batch = batch
        self.retry_s = retry_s
        self.cursor: str | None = None
        # Generations whose bump failed (Redis away): bumped before anything newer is recorded.
        self._owed_students: set[str] = set()
        self._owed_classes: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        # Reads that found nothing new: the bridge had caught up when each ended.
        self.idle_reads = 0
        self._caught_up = asyncio.Event()
        # Streams whose dashboards are due, with the last position that concerned each: the
        # dashboards are computed by a task of their own, on a connection of their own, so
        # events keep flowing while a large batch of dashboards is computed.
        self._due: dict[Stream, str] = {}
        self._wanted = asyncio.Event()
        self._dashboard_task: asyncio.Task[None] | None = None

    async def start(self, wait_s: float = 10.0) -> None:
        """Start reading; wait (at most `wait_s`) for the first catch-up, so that nothing a
        change made stale is served from the cache after a restart. With the database away
        there is nothing to wait for: the edge serves /healthz and an honest /readyz."""
        self._task = asyncio.create_task(self._run())
        self._dashboard_task = asyncio.create_task(self._push_dashboards())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._caught_up.wait(), wait_s)

    async def stop(self) -> None:
        for task in (self._task, self._dashboard_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, row_factory=tuple_row, application_name=APPLICATION_NAME
                ) as conn:
                    await conn.execute("listen app_events")
                    self.connected = True
                    if self.cursor is None:
                        self.cursor = await self._starting_point(conn)
                    while True:
                        started = time.monotonic()
                        await self._drain(conn)
                        async for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                            pass
                        # Under a stream of commits, read at most every min_interval_s: each
                        # read then carries several transactions' events for one bound check,
                        # one invalidation round trip and one dashboard call.
                        await asyncio.sleep(self.min_interval_s - (time.monotonic() - started))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect and resume from the cursor
                log.warning("events_bridge_failed", exc_info=True)
            self.connected = False
            self._caught_up.set()
            await asyncio.sleep(self.retry_s)

    async def _starting_point(self, conn: psycopg.AsyncConnection[Any]) -> str:
        try:
            stored = await self._r.run(lambda: self._r.channel.execute("GET", keys.EVENTS_INVALIDATED))
        except RedisUnavailable:
            stored = None
        if stored:
            return str(stored.decode())
        cur = await conn.execute(
            "select app.event_position_since(now() - make_interval(secs => %s))", (CATCH_UP_S,)
        )
        row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    async def _drain(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Read and hand over batches until the outbox has nothing final after the cursor; then
        send the dashboards of every stream they concerned, once each. (Events first: a
        statement that marked thousands of students reaches all of them before any dashboard
        is computed.)"""
        touched: dict[Stream, str] = {}
        while True:
            # The payload as jsonb's text: sent to the streams as it is, never parsed here.
            cur = await conn.execute(
                "select event_position, topic, student_id, class_id, payload::text"
                " from app.read_events(%s, %s)",
                (self.cursor, self.batch),
            )
            rows = await cur.fetchall()
            if rows:
                events = [
                    Event(r[0], r[1], str(r[2]) if r[2] else None, str(r[3]) if r[3] else None, r[4].encode())
                    for r in rows
                ]
                await self._invalidate(events)
                touched.update(self.hub.listeners(events))
                self.cursor = events[-1].position
                self.hub.deliver(events)
            if len(rows) < self.batch:
                break
        if self.hub.cursor is None:
            self.hub.cursor = self.cursor
        self._caught_up.set()
        if not rows:
            self.idle_reads += 1
        if touched:
            self._due.update(touched)
            self._wanted.set()

    async def _push_dashboards(self) -> None:
        """Compute and send the dashboards that are due, all of them in one call each time."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    row_factory=tuple_row,
                    application_name=DASHBOARDS_APPLICATION_NAME,
                ) as conn:
                    while True:
                        await self._wanted.wait()
                        self._wanted.clear()
                        due, self._due = self._due, {}
                        due = {stream: position for stream, position in due.items() if not stream.closed}
                        if due:
                            self.hub.deliver_metrics(due, await self._dashboards(conn, due))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - those dashboards are skipped; the next change sends them
                log.warning("events_dashboards_failed", exc_info=True)
            await asyncio.sleep(self.retry_s)

    async def _invalidate(self, events: list[Event]) -> None:
        """Bump the generation of every student and class touched (P5); on success, record
        the position in Redis for a restarted process."""
        self._owed_students.update(e.student_id for e in events if e.student_id)
        self._owed_classes.update(e.class_id for e in events if e.class_id)
        students, classes = list(self._owed_students), list(self._owed_classes)
        try:
            await self._cache.invalidate(students, classes)
        except RedisUnavailable:
            log.warning("events_invalidation_deferred", students=len(students), classes=len(classes))
            return
        self._owed_students.difference_update(students)
        self._owed_classes.difference_update(classes)
        with contextlib.suppress(RedisUnavailable):
            position = events[-1].position
            await self._r.run(lambda: self._r.channel.execute("SET", keys.EVENTS_INVALIDATED, position))

    async def _dashboards(
        self, conn: psycopg.AsyncConnection[Any], touched: dict[Stream, str]
    ) -> dict[str, bytes]:
        """The dashboards of the connected students a batch concerned, in one call, each
        stored in the response cache under the generations read before computing it."""
        classes = {stream.student_id: stream.class_id for stream in touched}
        students = sorted(classes)
        for sid, class_id in classes.items():
            self._responses.learn_class(sid, class_id)
        specs = {s: dashboard_spec(s) for s in students}
        stamps = await self._stamps(specs)
        cur = await conn.execute(
            "select student_id, dashboard from app.dashboards_for(%s::uuid[])", (students,)
        )
        out: dict[str, bytes] = {}
        stores = []
        for student_id, dashboard in await cur.fetchall():
            sid = str(student_id)
            body = self._enrich(dashboard)
            out[sid] = self._responses.dumps(body)
            stamp = stamps.get(sid)
            if stamp:
                stores.append(self._responses.store(specs[sid], stamp, body))
        # One write for all of them over the multiplexed channel.
        await asyncio.gather(*stores)
        return out

    async def _stamps(self, specs: dict[str, CacheSpec]) -> dict[str, str]:
        """The stamp each entry would be looked up with now (its generations' current values);
        none for an entry with a generation Redis does not hold."""
        lookups = {sid: self._responses.lookup_keys(spec)[1:] for sid, spec in specs.items()}
        names = sorted({k for ks in lookups.values() for k in ks})
        try:
            values = await self._r.run(lambda: self._r.channel.execute("MGET", *names))
        except RedisUnavailable:
            return {}
        current = {n: v.decode() for n, v in zip(names, values, strict=True) if v is not None}
        stamps = {}
        for sid, generations in lookups.items():
            if all(g in current for g in generations):
                stamps[sid] = "".join(f"{g}={current[g]};" for g in generations)
        return stamps
