"""Live updates for students: the event stream (SSE), its single-use tickets, and the polling
fallback that returns the same events with the same ids."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, request
from quart_schema import document_response

from edge import keys
from edge.auth import Caller
from edge.contract import operation
from edge.db import Database
from edge.errors import AuthenticationError, ServiceUnavailableError
from edge.guarded_redis import RedisUnavailable
from edge.schemas import EventsPage, EventsQuery, NoQuery, StreamQuery, StreamTicket
from edge.serving import authenticate, enforce, enrich, refuse, state
from edge.streams import Stream, message, retry_ms
from edge.validation import validate_query

live = Blueprint("live", __name__, url_prefix="/api/students")

TICKET_TTL_S = 60
# Events per replay page while a resumed stream catches up.
REPLAY_PAGE = 500


def _shape(page: dict[str, Any]) -> dict[str, Any]:
    """A page from api.events as sent: metrics_update data carries what a GET of the dashboard
    carries (cachedAt, source, stale)."""
    for event in page["events"]:
        if event["event"] == "metrics_update":
            enrich(event["data"])
    return page


@live.get("/events")
@validate_query(EventsQuery)
@document_response(EventsPage, 200)
@operation(errors=(400, 403))
async def events(query_args: EventsQuery) -> Response:
    """The caller's events after `after` (the polling fallback of the stream): the same events
    with the same ids, then `nextAfter` to pass next time. Without `after`: none, and
    `nextAfter` is now. A position older than the retention or from the future: one reset."""
    caller = await authenticate()
    decision = await enforce("student_reads", caller)
    page = await state().db.call_as(
        caller.claims, "select api.events(%s, %s)", (query_args.after, query_args.limit)
    )
    return Response(
        state().responses.dumps(_shape(page)), headers=decision.headers(), content_type="application/json"
    )


@live.post("/notifications/sse/ticket")
@validate_query(NoQuery)
@document_response(StreamTicket, 201)
@operation(errors=(400,))
async def ticket(query_args: NoQuery) -> Response:
    """A single-use ticket for `?ticket=` on the stream, valid 60 s, bound to the caller."""
    caller = await authenticate()
    decision = await enforce("sse_tickets", caller)
    value = secrets.token_urlsafe(32)
    redis = state().redis
    try:
        await redis.run(
            lambda: redis.channel.execute(
                "SET", keys.sse_ticket(value), json.dumps(caller.claims), "EX", TICKET_TTL_S, "NX"
            )
        )
    except RedisUnavailable as exc:
        raise ServiceUnavailableError("Tickets are unavailable; use the Authorization header.") from exc
    body = state().responses.dumps({"ticket": value, "expiresIn": TICKET_TTL_S})
    return Response(body, status=201, headers=decision.headers(), content_type="application/json")


async def _stream_caller(ticket: str | None) -> Caller:
    """The caller of a stream: by bearer token, or by a ticket, which is used up."""
    if ticket is None:
        return await authenticate()
    redis = state().redis
    try:
        raw = await redis.run(lambda: redis.channel.execute("GETDEL", keys.sse_ticket(ticket)))
    except RedisUnavailable as exc:
        raise ServiceUnavailableError("Tickets are unavailable; use the Authorization header.") from exc
    if raw is None:
        raise AuthenticationError("The ticket is unknown, used or expired.")
    claims = json.loads(raw)
    if claims.get("exp", 0) <= time.time():
        raise AuthenticationError("The token the ticket was issued for has expired.")
    return Caller(user_id=uuid.UUID(claims["sub"]), claims=claims)


STREAM_DESCRIPTION = (
    "Server-Sent Events. Each event has `id:` (a position; resume after it with Last-Event-ID), "
    "`event:` and one JSON `data:` line: `attendance_update` (an AttendanceChange of one of the "
    "student's records), `metrics_update` (the StudentDashboard, as GET /api/students/dashboard "
    "returns it), `notification` (a new in-app notification: id, type, title, message, severity, "
    "actionUrl, createdAt, read), `reset` (refetch everything: the position was malformed, from the "
    "future or older than the 72 h retention). The first message sets `retry:`; a comment line "
    "comes every 15 s."
)


@live.get("/notifications/sse")
@validate_query(StreamQuery)
@operation(errors=(400, 403), event_stream=STREAM_DESCRIPTION)
async def stream(query_args: StreamQuery) -> Response:
    """The caller's events as Server-Sent Events: attendance_update, metrics_update, reset.
    Resumes after `Last-Event-ID` (or `lastEventId`) with no duplicate and no gap."""
    s = state()
    caller = await _stream_caller(query_args.ticket)
    admission = await s.gate.admit("sse_connections", caller.key)
    if not admission.decision.allowed:
        raise await refuse(admission.decision, "sse_connections", caller.key, caller.key)
    hub = s.hub
    if hub.cursor is None:
        raise ServiceUnavailableError("Live updates are starting; poll GET /api/students/events meanwhile.")
    info = await s.db.call_as(caller.claims, "select api.event_stream()")
    resume = request.headers.get("Last-Event-ID") or query_args.lastEventId
    start = resume or info["head"]
    s.responses.learn_class(info["studentId"], info["classId"])

    async def body() -> AsyncIterator[bytes]:
        # Registered once the body is being sent (a client gone before that leaves nothing);
        # everything after the bridge's cursor at this moment reaches the stream live.
        stream_ = hub.open(info["studentId"], info["classId"], start, float(caller.claims["exp"]))
        live_from = hub.cursor or start
        stream_.sender = asyncio.current_task()
        try:
            first = message(None, None, start, retry_ms())
            if resume is not None:
                first, replayed = await _replay(s.db, caller, stream_, resume, live_from)
                yield first
                for chunk in replayed:
                    yield chunk
            else:
                yield first
            while True:
                queued = await stream_.next()
                if queued is None:
                    return
                yield queued
        finally:
            hub.close(stream_, stream_.closed or "disconnected")

    headers = {
        **admission.decision.headers(),
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    }
    response = Response(body(), headers=headers, content_type="text/event-stream")
    response.timeout = None
    return response


async def _replay(
    db: Database, caller: Caller, stream_: Stream, after: str, until: str
) -> tuple[bytes, list[bytes]]:
    """The first message and the events between the client's position and where the live part
    starts (`until`), page by page. A position that is malformed, from the future or older
    than the retention gets a reset first, and the replay goes on from now. (The response body
    runs outside the app context: what it needs is passed in.)"""
    first: bytes | None = None
    chunks: list[bytes] = []
    position = after
    while True:
        page = _shape(
            await db.call_as(caller.claims, "select api.events(%s, %s, %s)", (position, REPLAY_PAGE, until))
        )
        if page["reset"]:
            (reset,) = page["events"]
            first = message("reset", reset["data"], reset["id"], retry_ms())
            position = stream_.floor = reset["id"]
            continue
        if first is None:
            first = message(None, None, position, retry_ms())
        chunks.extend(message(e["event"], e["data"], e["id"]) for e in page["events"])
        if not page["events"] or page["nextAfter"] == position:
            return first, chunks
        position = page["nextAfter"]
