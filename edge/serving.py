"""The path every data request takes: authenticate, pass the gate (rate limit and cache lookup
in one Redis round trip), then serve from cache (HIT, STALE), compute once (MISS) or skip Redis
(BYPASS)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

import structlog
from quart import Response, current_app, g, request
from quart_schema import RequestSchemaValidationError

from edge.auth import Caller, TokenRejected, TokenVerifier
from edge.cache import CacheService, CacheSpec, Entry, ResponseCache
from edge.db import Database
from edge.errors import ApiError, AuthenticationError, RateLimitError, ValidationError
from edge.gate import Gate
from edge.guarded_redis import GuardedRedis
from edge.observability import Metrics, current_trace
from edge.ratelimit import Decision
from edge.resources import ResourceMonitor
from edge.settings import EdgeSettings
from edge.storage import Storage
from edge.streams import Hub
from edge.validation import as_validation_error

if TYPE_CHECKING:
    from edge.outbox import Bridge

log = structlog.get_logger("edge")
Handler = Callable[..., Awaitable[Any]]


@dataclass
class EdgeState:
    """Everything the app creates at startup, kept on app.extensions["edge"]."""

    settings: EdgeSettings
    db: Database
    redis: GuardedRedis
    gate: Gate
    cache: CacheService
    responses: ResponseCache
    verifier: TokenVerifier
    metrics: Metrics
    resources: ResourceMonitor
    hub: Hub
    bridge: Bridge
    storage: Storage


def state() -> EdgeState:
    edge_state: EdgeState = current_app.extensions["edge"]
    return edge_state


def client_ip() -> str | None:
    """The peer's address, when it is one (test clients and unix sockets have none)."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return None


async def audit(
    action: str,
    resource: str,
    *,
    user_id: str | None = None,
    resource_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    success: bool = True,
    error: str | None = None,
) -> None:
    """One audit entry, written as the edge's login role. A failure is logged, never raised."""
    try:
        await state().db.call_as_edge(
            "select audit.log(%s, %s, %s, %s::jsonb, %s, %s, %s, %s::inet, %s)",
            (
                action,
                resource,
                resource_id,
                json.dumps(metadata or {}),
                success,
                error,
                user_id,
                client_ip(),
                request.headers.get("User-Agent"),
            ),
        )
    except Exception:  # noqa: BLE001 - the audit log must not turn a response into a 500
        log.exception("audit_write_failed", action=action, **current_trace().fields())


async def refuse(decision: Decision, bucket: str, identity: str, user_id: str | None) -> RateLimitError:
    state().metrics.rate_limited.labels(bucket).inc()
    if decision.first_violation:
        await audit(
            "rate_limit_exceeded",
            "endpoint",
            user_id=user_id,
            resource_id=request.path,
            metadata={
                "endpoint": request.path,
                "bucket": bucket,
                "limit": decision.limit,
                "windowSeconds": state().gate.limits[bucket].window_s,
                "identity": identity,
            },
            success=False,
        )
    return RateLimitError(
        "Too many requests. Please try again later.",
        retry_after=decision.retry_after_s,
        headers=decision.headers(),
    )


async def authenticate() -> Caller:
    """The verified caller, or 401 with one audit entry (per IP rate-limited, so no flood).
    Verified once per request."""
    known: Caller | None = g.get("caller")
    if known is not None:
        return known
    s = state()
    try:
        caller = await s.verifier.verify(request.headers.get("Authorization"))
    except TokenRejected as rejected:
        s.metrics.auth_failures.labels(rejected.reason).inc()
        identity = f"ip:{client_ip() or 'unknown'}"
        admission = await s.gate.admit("anonymous", identity)
        if not admission.decision.allowed:
            raise await refuse(admission.decision, "anonymous", identity, None) from rejected
        await audit(
            "login_failure",
            "auth",
            metadata={"reason": rejected.reason, "path": request.path, "method": request.method},
            success=False,
            error=rejected.message,
        )
        raise AuthenticationError(rejected.message) from rejected
    current_trace().user_id = caller.key
    g.caller = caller
    return caller


def audit_refusals(action: str, resource: str) -> Callable[[Handler], Handler]:
    """An audited action's bad input is audited too. Outermost on the view: the caller is
    authenticated first (so the request's own checks, a query's included, know who asked), and
    a refusal (a 4xx other than 401 and 429, which have entries of their own) writes one entry
    with success false, the status and the message, then goes to the client as it was."""

    def decorator(func: Handler) -> Handler:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            caller = await authenticate()
            try:
                return await func(*args, **kwargs)
            except (ApiError, RequestSchemaValidationError) as exc:
                refusal = exc if isinstance(exc, ApiError) else as_validation_error(exc)
                if 400 <= refusal.status < 500 and refusal.status not in (401, 429):
                    await audit(
                        action,
                        resource,
                        user_id=caller.key,
                        resource_id=kwargs.get("id"),
                        metadata={
                            "httpStatus": refusal.status,
                            "path": request.path,
                            "query": request.query_string.decode("latin-1")[:500],
                        },
                        success=False,
                        error=refusal.message,
                    )
                raise

        return wrapper

    return decorator


async def enforce(bucket: str, caller: Caller) -> Decision:
    """Count one request against a bucket without a cache lookup; 429 when over the limit."""
    identity = caller.key
    admission = await state().gate.admit(bucket, identity)
    if not admission.decision.allowed:
        raise await refuse(admission.decision, bucket, identity, identity)
    return admission.decision


def enrich(body: dict[str, Any]) -> dict[str, Any]:
    """Fields fixed when the figures are computed, so cache and database give the same body."""
    freshness = body.get("freshness") or {}
    body["cachedAt"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if freshness:
        body["source"] = freshness.get("source")
        body["stale"] = bool(freshness.get("stale"))
    return body


async def serve(
    endpoint: str,
    bucket: str,
    sql: str,
    params: Sequence[Any] = (),
    *,
    cache: CacheSpec | None = None,
    caller: Caller | None = None,
    field: str | None = None,
) -> Response:
    """Answer one read: the body is what the api function returned, shaped for HTTP."""
    s = state()
    caller = caller or await authenticate()
    identity = caller.key
    # A cacheable response carries cachedAt (and source, stale) whether or not the cache is on.
    cacheable = cache is not None
    if not s.settings.response_cache:
        cache = None
    admission = await s.gate.admit(bucket, identity, s.responses.lookup_keys(cache) if cache else ())
    if not admission.decision.allowed:
        raise await refuse(admission.decision, bucket, identity, identity)

    async def compute() -> dict[str, Any]:
        s.metrics.computations.labels(endpoint).inc()
        try:
            result: dict[str, Any] = await s.db.call_as(caller.claims, sql, params)
        except ValidationError as exc:
            exc.field = exc.field or field
            raise
        return enrich(result) if cacheable else result

    age = 0
    stale_data = False
    view_age: int | None = None
    payload: dict[str, Any] | bytes | str
    if cache is None or admission.bypass:
        payload = await compute()
        status = "BYPASS" if cache is not None else None
    elif admission.value is not None:
        entry = Entry.parse(admission.value)
        payload = entry.body
        age = max(0, (admission.now_ms - entry.cached_at_ms) // 1000)
        stale_data, view_age = entry.stale, entry.view_age_s
        if admission.now_ms < entry.fresh_until_ms:
            status = "HIT"
        else:
            status = "STALE"
            s.responses.refresh_in_background(cache, admission.stamp, compute)
    else:
        payload = await s.responses.single_flight(cache, admission.stamp, compute)
        status = "MISS"
    if isinstance(payload, dict):
        stale_data = bool(payload.get("stale"))
        view_age = (payload.get("freshness") or {}).get("ageSeconds")
        payload = s.responses.dumps(payload)
    if status is not None:
        s.metrics.count_cache(status)

    headers = admission.decision.headers()
    if status is not None:
        headers["X-Cache"] = status
    if status == "STALE" or stale_data:
        headers["X-Data-Stale"] = "true"
        headers["Age"] = str(max(age, int(view_age or 0)))
    elif status == "HIT":
        headers["Age"] = str(age)
    return Response(payload, headers=headers, content_type="application/json")
