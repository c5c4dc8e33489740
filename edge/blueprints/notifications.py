"""The caller's notifications and notification preferences. The database decides whose they
are (api.notifications and friends run for the student the token names); cached pages are
invalidated by the outbox events that creating, reading and preference changes write."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from quart_schema import document_request, document_response

from edge.cache import CacheSpec
from edge.contract import operation
from edge.schemas import (
    MarkAll,
    MarkedRead,
    MarkIds,
    MarkRead,
    NoQuery,
    NotificationsPage,
    NotificationsQuery,
    Preferences,
    PreferencesUpdate,
)
from edge.serving import authenticate, enforce, enrich, serve, state
from edge.validation import read_body, validate_query

notifications = Blueprint("notifications", __name__, url_prefix="/api/students")

# Cached until an event says otherwise; the TTL bounds an entry whose event was missed.
NOTIFICATIONS_TTL, PREFERENCES_TTL = 60, 300


@notifications.get("/notifications")
@validate_query(NotificationsQuery)
@document_response(NotificationsPage, 200)
@operation(errors=(400, 403), cached=True)
async def page(query_args: NotificationsQuery) -> Response:
    """The caller's in-app notifications, newest first, with nextCursor and unreadCount."""
    caller = await authenticate()
    sid = caller.key
    name = f"notifications:{int(query_args.unread)}:{query_args.limit}:{query_args.cursor or ''}"
    spec = CacheSpec(sid, name, NOTIFICATIONS_TTL, student_id=sid)
    return await serve(
        "notifications",
        "student_reads",
        "select api.notifications(%s, %s, %s)",
        (query_args.unread, query_args.limit, query_args.cursor),
        cache=spec,
        caller=caller,
        field="cursor",
    )


def _read_shape(data: Any) -> type[MarkIds | MarkAll]:
    """{"ids": ...} is checked as ids, anything else as {"all": true}."""
    return MarkIds if isinstance(data, dict) and "ids" in data else MarkAll


@notifications.post("/notifications/read")
@validate_query(NoQuery)
@document_request(MarkRead)
@document_response(MarkedRead, 200)
@operation(errors=(400, 403))
async def mark_read(query_args: NoQuery) -> Response:
    """Mark notifications read: `ids` (unknown or someone else's are ignored, not reported) or
    `all: true`. Answers how many changed and how many are left unread."""
    caller = await authenticate()
    data = await read_body(MarkIds | MarkAll, choose=_read_shape)  # type: ignore[arg-type]
    decision = await enforce("student_writes", caller)
    ids = [str(i) for i in data.ids] if isinstance(data, MarkIds) else None
    result = await state().db.call_as(
        caller.claims,
        "select api.mark_notifications_read(%s::uuid[], %s)",
        (ids, isinstance(data, MarkAll)),
        read_only=False,
    )
    return Response(
        state().responses.dumps(result), headers=decision.headers(), content_type="application/json"
    )


@notifications.get("/preferences")
@validate_query(NoQuery)
@document_response(Preferences, 200)
@operation(errors=(400, 403), cached=True)
async def preferences(query_args: NoQuery) -> Response:
    """The caller's NotificationPreferences."""
    caller = await authenticate()
    sid = caller.key
    spec = CacheSpec(sid, "preferences", PREFERENCES_TTL, student_id=sid)
    return await serve(
        "preferences", "student_reads", "select api.notification_preferences()", cache=spec, caller=caller
    )


@notifications.put("/preferences")
@validate_query(NoQuery)
@document_request(PreferencesUpdate)
@document_response(Preferences, 200)
@operation(errors=(400, 403))
async def update_preferences(query_args: NoQuery) -> Response:
    """Replace the caller's NotificationPreferences (every flag; unknown fields are refused)."""
    caller = await authenticate()
    data = await read_body(PreferencesUpdate)
    decision = await enforce("student_writes", caller)
    result = await state().db.call_as(
        caller.claims,
        "select api.update_notification_preferences(%s::jsonb)",
        (data.model_dump_json(),),
        read_only=False,
    )
    return Response(
        state().responses.dumps(enrich(result)), headers=decision.headers(), content_type="application/json"
    )
