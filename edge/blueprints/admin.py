"""Admin endpoints: the audit log and rate-limit resets."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

from edge.contract import operation
from edge.schemas import AuditPage, AuditQuery, NoQuery, RateLimitReset
from edge.serving import audit, authenticate, enforce, serve, state
from edge.validation import path_uuid, validate_query

admin = Blueprint("admin", __name__, url_prefix="/api/admin")


@admin.get("/audit")
@validate_query(AuditQuery)
@document_response(AuditPage, 200)
@operation(errors=(400, 403))
async def audit_log(query_args: AuditQuery) -> Response:
    """Audit entries, newest first, filtered and paginated (admins)."""
    q = query_args
    return await serve(
        "audit",
        "admin",
        "select api.audit_logs(%s, %s, %s, %s, %s, %s, %s)",
        (q.userId, q.action, q.from_, q.to, q.success, q.limit, q.offset),
    )


@admin.delete("/rate-limits/<userId>")
@validate_query(NoQuery)
@document_response(RateLimitReset, 200)
@operation(errors=(400, 403), uuid_params=("userId",))
async def reset_rate_limits(userId: str, query_args: NoQuery) -> Response:  # noqa: N803 - the path's name
    """Forget every rate-limit window of one user (admins)."""
    target = path_uuid(userId, "userId", "a user id")
    caller = await authenticate()
    decision = await enforce("admin", caller)
    s = state()
    await s.db.call_as(caller.claims, "select app.authorize_admin()")
    buckets = await s.gate.reset(target)
    await audit(
        "rate_limit_reset", "user", user_id=caller.key, resource_id=target, metadata={"buckets": buckets}
    )
    response = Response(
        s.responses.dumps({"userId": target, "buckets": buckets, "reset": True}),
        content_type="application/json",
    )
    response.headers.update(decision.headers())
    return response
