"""Helpers for the live-update tests: a class to mark, and SSE clients reading real streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.db.helpers import School
from tests.edge.conftest import bearer

# A class marked the way teachers mark (tests.db.helpers.School.mark: PostgREST's role and claims).
Classroom = School


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
