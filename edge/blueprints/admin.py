"""Admin endpoints: the audit log and rate-limit resets."""

from __future__ import annotations

import uuid

from quart import Blueprint, Response, jsonify
from quart_schema import document_response

from edge.errors import ValidationError
from edge.schemas import AuditPage, AuditQuery, ErrorResponse
from edge.serving import audit, authenticate, enforce, serve, state
from edge.validation import validate_query

admin = Blueprint("admin", __name__, url_prefix="/api/admin")


@admin.get("/audit")
@validate_query(AuditQuery)
@document_response(AuditPage, 200)
@document_response(ErrorResponse, 400)
@document_response(ErrorResponse, 403)
async def audit_log(query_args: AuditQuery) -> Response:
    """Audit entries, newest first, filtered and paginated (admins)."""
    q = query_args
    return await serve(
        "audit",
        "admin",
        "select api.audit_logs(%s, %s, %s, %s, %s, %s, %s)",
        (q.userId, q.action, q.from_, q.to, q.success, q.limit, q.offset),
    )


@admin.delete("/rate-limits/<user_id>")
@document_response(ErrorResponse, 403)
async def reset_rate_limits(user_id: str) -> Response:
    """Forget every rate-limit window of one user (admins)."""
    try:
        target = str(uuid.UUID(user_id))
    except ValueError as exc:
        raise ValidationError(f"{user_id!r} is not a user id (uuid).", field="userId") from exc
    caller = await authenticate()
    decision = await enforce("admin", caller)
    s = state()
    await s.db.call_as(caller.claims, "select app.authorize_admin()")
    buckets = await s.gate.reset(target)
    await audit(
        "rate_limit_reset", "user", user_id=caller.key, resource_id=target, metadata={"buckets": buckets}
    )
    response = jsonify({"userId": target, "buckets": buckets, "reset": True})
    response.headers.update(decision.headers())
    return response
