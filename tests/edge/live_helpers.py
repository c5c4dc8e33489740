"""Helpers for the live-update tests: a class to mark, and SSE clients reading real streams."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from httpx_sse import aconnect_sse

from tests.edge.conftest import bearer

DAY = dt.date(2026, 11, 2)


class Classroom:
    """A class with a teacher and `size` students, marked the way teachers mark: as the role
    authenticated with the teacher's claims (what PostgREST runs), one statement per period."""

    def __init__(self, db: psycopg.Connection[Any], size: int) -> None:
        self.db = db
        self.class_id = uuid.uuid4()
        self.teacher = uuid.uuid4()
        self.students = [uuid.uuid4() for _ in range(size)]
        db.execute(
            "insert into app.classes (id, name) values (%s, %s)", (self.class_id, f"Live {self.class_id}")
        )
        db.execute(
            "insert into app.staff (id, name, email, role) values (%s, 'Teacher', %s, 'teacher')",
            (self.teacher, f"{self.teacher}@school.test"),
        )
        db.execute("insert into app.class_teachers values (%s, %s)", (self.class_id, self.teacher))
        for s in self.students:
            db.execute(
                "insert into app.students (id, class_id, name, email) values (%s, %s, 'Student', %s)",
                (s, self.class_id, f"{s}@school.test"),
            )

    def statement(self, period: int, status: str, students: list[uuid.UUID] | None = None) -> str:
        rows = ", ".join(
            f"('{s}', '{self.class_id}', '{DAY}', {period}, 'Maths', '{status}', '{self.teacher}')"
            for s in (students or self.students)
        )
        return (
            "insert into app.attendance_records"
            " (student_id, class_id, date, period, subject, status, marked_by)"
            f" values {rows} on conflict (student_id, date, period) do update set status = excluded.status,"
            " marked_by = excluded.marked_by"
        )

    def mark(
        self,
        period: int,
        status: str = "present",
        students: list[uuid.UUID] | None = None,
        conn: psycopg.Connection[Any] | None = None,
    ) -> None:
        """Mark as the teacher, through the role and claims PostgREST would set."""
        c = conn or self.db
        with c.transaction():
            c.execute("set local role authenticated")
            claims = {"sub": str(self.teacher), "role": "authenticated", "aud": "authenticated"}
            c.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            c.execute(self.statement(period, status, students))


@dataclass
class Received:
    """What one SSE client has read: (id, event, data) in order, and the stream's last id."""

    events: list[tuple[str, str, Any]] = field(default_factory=list)
    last_id: str | None = None
    status: int | None = None
    error: Exception | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, kind: str) -> list[tuple[str, str, Any]]:
        return [e for e in self.events if e[1] == kind]


async def listen(
    client: httpx.AsyncClient,
    url: str,
    student: uuid.UUID | str,
    received: Received,
    last_event_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Read a stream until it ends or the task is cancelled."""
    sent = {**(headers if headers is not None else bearer(student))}
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    try:
        async with aconnect_sse(
            client, "GET", f"{url}/api/students/notifications/sse", headers=sent
        ) as source:
            received.status = source.response.status_code
            if source.response.status_code != 200:
                return
            received.opened.set()
            async for sse in source.aiter_sse():
                if sse.id:
                    received.last_id = sse.id
                if sse.event == "message" and not sse.data:
                    continue
                received.events.append((sse.id, sse.event, json.loads(sse.data) if sse.data else None))
    except httpx.TransportError as exc:
        # The server went away or cut the stream: it ended.
        received.error = exc
    finally:
        received.opened.set()
        received.closed.set()


@contextlib.asynccontextmanager
async def streams(
    url: str, students: list[uuid.UUID], timeout: float = 10.0
) -> AsyncIterator[dict[uuid.UUID, Received]]:
    """One open stream per student (each has sent its first message) until the block ends."""
    limits = httpx.Limits(max_connections=len(students) + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None), limits=limits) as client:
        received = {s: Received() for s in students}
        tasks = [asyncio.create_task(listen(client, url, s, received[s])) for s in students]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.opened.wait() for r in received.values())), timeout)
            for s, r in received.items():
                assert r.status == 200, f"stream of {s}: {r.status}"
            await asyncio.wait_for(_first_ids(received), timeout)
            yield received
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _first_ids(received: dict[uuid.UUID, Received]) -> None:
    while any(r.last_id is None for r in received.values()):
        await asyncio.sleep(0.01)


async def wait_until(predicate: Any, timeout: float, what: str) -> float:
    """Poll `predicate()` until it holds; the seconds it took. Fails naming `what`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)
    return loop.time() - start
