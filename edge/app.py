"""The Quart application factory: one blueprint per surface, pools created while serving."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import structlog
from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from quart import Quart, Response, g, request
from quart_schema import HttpSecurityScheme, Info, QuartSchema, RequestSchemaValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from werkzeug.exceptions import HTTPException

from edge.auth import TokenVerifier
from edge.blueprints.admin import admin
from edge.blueprints.classes import classes
from edge.blueprints.exports import exports
from edge.blueprints.files import files
from edge.blueprints.live import live
from edge.blueprints.notifications import notifications
from edge.blueprints.ops import ops
from edge.blueprints.students import students
from edge.breaker import CircuitBreaker
from edge.cache import CacheService, ResponseCache
from edge.channel import RedisChannel
from edge.contract import BEARER, ContractProvider
from edge.db import Database
from edge.errors import (
    ApiError,
    HeadersTooLargeError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
    error_response,
)
from edge.flow import FlowHTTPConnection, FlowRequest
from edge.gate import Gate
from edge.guarded_redis import GuardedRedis
from edge.observability import Metrics, RequestTrace, configure_logging, current_trace, request_id
from edge.outbox import Bridge
from edge.ratelimit import limits
from edge.resources import ResourceMonitor
from edge.serving import EdgeState, enrich
from edge.settings import EdgeSettings
from edge.storage import Backend, LocalBackend, Storage, SupabaseBackend
from edge.streams import Hub
from edge.validation import BODY_LIMIT_ATTRIBUTE, as_validation_error

log = structlog.get_logger("edge")


class OpenApiOnly(QuartSchema):
    """quart-schema for what this app uses it for: the OpenAPI description and the docs page.

    QuartSchema also wraps every response in a conversion of pydantic and dataclass return
    values. Every view and error handler here returns a Response it built itself, so the
    conversion never converts anything, yet it cost 6 % of a cache hit's instructions.
    """

    def init_app(self, app: Quart) -> None:
        super().init_app(app)
        # QuartSchema sets an instance attribute over Quart.make_response; drop it.
        vars(app).pop("make_response", None)


def create_app(settings: EdgeSettings | None = None) -> Quart:
    conf = settings or EdgeSettings.from_env()
    configure_logging(conf.debug)
    app = Quart(__name__)
    # Streamed bodies (uploads) are read with flow control (edge/flow.py).
    app.request_class = FlowRequest
    app.asgi_http_class = FlowHTTPConnection
    app.config["SETTINGS"] = conf
    app.config["MAX_CONTENT_LENGTH"] = conf.max_body_bytes
    OpenApiOnly(
        app,
        info=Info(title="Attendance dashboard edge", version="1.0.0"),
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={BEARER: HttpSecurityScheme(scheme="bearer", bearer_format="JWT")},
        openapi_provider_class=ContractProvider,
    )
    for blueprint in (ops, students, live, notifications, exports, files, classes, admin):
        app.register_blueprint(blueprint)
    metrics = Metrics()

    @app.before_serving
    async def start() -> None:
        # First: a misconfigured backend fails startup before anything is opened.
        storage_backend = _storage_backend(conf)
        pool = AsyncConnectionPool(
            conf.database_url,
            min_size=conf.db_pool_min,
            max_size=conf.db_pool_max,
            open=False,
            name="edge",
            timeout=10,
            max_idle=300,
            max_lifetime=3600,
            # Each statement commits on its own; call_as sends its settings in the same query.
            kwargs={"autocommit": True},
            configure=_configure_connection,
        )
        # Do not wait: the edge serves /healthz and an honest /readyz while Postgres is away.
        await pool.open(wait=False)
        client = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                conf.redis_url,
                max_connections=conf.redis_pool_max,
                timeout=conf.readiness_timeout_s,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
        )
        breaker = CircuitBreaker(
            "redis",
            failure_threshold=conf.redis_breaker_failures,
            window_s=conf.redis_breaker_window_s,
            open_s=conf.redis_breaker_open_s,
            success_threshold=conf.redis_breaker_successes,
        )
        channel = RedisChannel(conf.redis_url, timeout_s=1.0, connect_timeout_s=1.0)
        redis = GuardedRedis(client, channel, breaker)
        resources = ResourceMonitor(conf.cpu_limit_percent, conf.memory_limit_percent, conf.resource_sample_s)
        # Health checks run every 30 s on idle connections, not on every checkout (a round
        # trip per request); a connection that breaks in between fails a read, which is retried.
        await resources.start(on_tick=pool.check, every_s=30.0)
        cache, responses = CacheService(redis), ResponseCache(redis)
        hub = Hub(redis, record_ttl_s=conf.sse_record_ttl_s, queue_bytes=conf.sse_queue_bytes)
        bridge = Bridge(conf.database_url, hub, redis, cache, responses, enrich, poll_s=conf.events_poll_s)
        metrics.watch_streams(hub)
        app.extensions["edge"] = EdgeState(
            settings=conf,
            db=Database(pool, conf.db_retry_delays_s),
            redis=redis,
            gate=Gate(redis, limits(conf.rate_limits)),
            cache=cache,
            responses=responses,
            verifier=TokenVerifier(conf.jwt_secret, conf.jwt_jwks_url, conf.jwt_audience),
            metrics=metrics,
            resources=resources,
            hub=hub,
            bridge=bridge,
            storage=Storage(
                storage_backend,
                CircuitBreaker(
                    "storage",
                    failure_threshold=conf.storage_breaker_failures,
                    window_s=conf.storage_breaker_window_s,
                    open_s=conf.storage_breaker_open_s,
                    success_threshold=conf.storage_breaker_successes,
                ),
            ),
        )
        await hub.start(every_s=conf.sse_heartbeat_s)
        await bridge.start()
        await _warn_about_eviction_policy(client)

    @app.after_serving
    async def stop() -> None:
        edge: EdgeState = app.extensions["edge"]
        await edge.bridge.stop()
        await edge.hub.stop()
        await edge.responses.drain()
        await edge.resources.stop()
        await edge.storage.backend.close()
        await edge.db.pool.close()
        await edge.redis.channel.close()
        await edge.redis.client.aclose(close_connection_pool=True)

    @app.before_request
    async def begin() -> None:
        req = request
        # getlist: Headers.get raises and catches an exception for every absent header.
        incoming = req.headers.getlist("X-Request-ID")
        g.trace = RequestTrace(
            request_id(incoming[0] if incoming else None), req.method, req.path, time.perf_counter()
        )
        if sum(len(name) + len(value) for name, value in req.scope["headers"]) > conf.max_header_bytes:
            raise HeadersTooLargeError(f"The request headers are larger than {conf.max_header_bytes} bytes.")
        # Refuse a declared oversized body at once, whether or not the endpoint would read it;
        # a view that streams its body checks its own limit (edge.validation.body_limit).
        length = req.content_length
        if length is not None and length > conf.max_body_bytes:
            view = app.view_functions.get(req.endpoint or "")
            if not hasattr(view, BODY_LIMIT_ATTRIBUTE):
                raise PayloadTooLargeError(f"The request body is larger than {conf.max_body_bytes} bytes.")

    @app.after_request
    async def finish(response: Response) -> Response:
        now = time.perf_counter()
        trace = current_trace()
        response.headers["X-Request-ID"] = trace.request_id
        duration = now - trace.started
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        metrics.observe_request(trace.method, endpoint, response.status_code, duration)
        log.info(
            "request",
            **trace.fields(),
            status=response.status_code,
            duration_ms=round(duration * 1000, 2),
        )
        return response

    @app.errorhandler(ApiError)
    async def api_error(error: ApiError) -> Response:
        return error_response(error, conf.debug)

    @app.errorhandler(RequestSchemaValidationError)
    async def invalid_request(error: RequestSchemaValidationError) -> Response:
        return error_response(as_validation_error(error), conf.debug)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        mapped: ApiError
        if error.code == 404:
            mapped = NotFoundError(f"No endpoint at {request.path}.")
        elif error.code == 405:
            allowed = sorted(getattr(error, "valid_methods", None) or [])
            mapped = MethodNotAllowedError(
                f"{request.method} is not allowed on {request.path}.", headers={"Allow": ", ".join(allowed)}
            )
        elif error.code == 413:
            mapped = PayloadTooLargeError(f"The request body is larger than {conf.max_body_bytes} bytes.")
        elif error.code == 431:
            mapped = HeadersTooLargeError("The request headers are too large.")
        elif error.code is not None and 400 <= error.code < 500:
            mapped = ValidationError(error.description or "The request is not valid.")
            mapped.status = error.code
        else:
            mapped = ApiError("An internal error occurred.")
        return error_response(mapped, conf.debug)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.error("unhandled_error", exc_info=error, **current_trace().fields())
        return error_response(ApiError("An internal error occurred.", details=repr(error)), conf.debug)

    return app


def _storage_backend(conf: EdgeSettings) -> Backend:
    """Supabase Storage when its URL and service key are set, else the local directory."""
    root = Path(conf.storage_dir).resolve()
    if conf.supabase_url and conf.supabase_service_key:
        return SupabaseBackend(
            conf.supabase_url, conf.supabase_service_key, conf.storage_bucket, root / ".spool"
        )
    return LocalBackend(root)


async def _configure_connection(conn: AsyncConnection[Any]) -> None:
    """json and jsonb results parsed by orjson (the api functions answer in jsonb)."""
    set_json_loads(orjson.loads, conn)


async def _warn_about_eviction_policy(client: Redis) -> None:
    try:
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
    except Exception:  # noqa: BLE001 - Redis may be down or CONFIG disabled (managed Redis)
        return
    if policy != "allkeys-lru":
        log.warning("redis_eviction_policy", policy=policy, expected="allkeys-lru")
