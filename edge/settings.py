"""The edge's settings: one frozen object read from the environment once."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field

from edge.ratelimit import BUCKETS

_PROCESS_KEY = secrets.token_bytes(32)


class SettingsError(Exception):
    """A setting is present but unusable."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not an integer") from exc


def _limits(raw: str | None) -> dict[str, tuple[int, int]]:
    """RATE_LIMITS='{"student_reads": [200, 60]}' overrides buckets: [requests, window seconds]."""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
        limits = {str(k): (int(v[0]), int(v[1])) for k, v in parsed.items()}
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise SettingsError(f"RATE_LIMITS must map bucket names to [requests, seconds]: {exc}") from exc
    unknown = sorted(set(limits) - set(BUCKETS))
    if unknown:
        raise SettingsError(f"RATE_LIMITS names unknown buckets {unknown}; the buckets are {sorted(BUCKETS)}")
    if any(requests < 1 or window < 1 for requests, window in limits.values()):
        raise SettingsError("RATE_LIMITS: requests and seconds must be at least 1")
    return limits


@dataclass(frozen=True)
class EdgeSettings:
    # Connection strings and the JWT secret carry credentials: kept out of every repr and log.
    database_url: str = field(repr=False)
    redis_url: str = field(repr=False)
    jwt_secret: str | None = field(repr=False)
    jwt_jwks_url: str | None = None
    jwt_audience: str = "authenticated"
    db_pool_min: int = 10
    db_pool_max: int = 50
    redis_pool_max: int = 100
    readiness_timeout_s: float = 2.0
    debug: bool = False
    max_body_bytes: int = 1024 * 1024
    # Request heads above this are refused by the app (431, ErrorResponse). hypercorn's own
    # limit (edge/hypercorn.toml) sits above it, so the app is the one that answers.
    max_header_bytes: int = 16 * 1024
    rate_limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Off: every read is computed by the database (rate limits still apply).
    response_cache: bool = True
    # Database retries on connection failures: the seed's 1 s, 2 s, 4 s.
    db_retry_delays_s: tuple[float, ...] = (1.0, 2.0, 4.0)
    # The Redis circuit: the seed's 5 failures in 60 s open it for 30 s; 2 successes close it.
    redis_breaker_failures: int = 5
    redis_breaker_window_s: float = 60.0
    redis_breaker_open_s: float = 30.0
    redis_breaker_successes: int = 2
    # Live updates: how often the bridge reads the outbox without a notification, how often
    # streams get a heartbeat, and how long a stream's Redis record outlives its last one.
    events_poll_s: float = 1.0
    sse_heartbeat_s: float = 15.0
    sse_record_ttl_s: int = 30
    # What a stream may have waiting before its reader is cut off.
    sse_queue_bytes: int = 1024 * 1024
    # Certificate files: the local directory, or Supabase Storage when both of these are set.
    storage_dir: str = "var/storage/certificates"
    supabase_url: str | None = None
    supabase_service_key: str | None = field(default=None, repr=False)
    storage_bucket: str = "medical-certificates"
    # Signs download URLs (HMAC-SHA256). Unset: derived from JWT_SECRET.
    file_url_secret: str | None = field(default=None, repr=False)
    # Where signed URLs point (scheme, host and port clients reach); unset: the request's host.
    public_url: str | None = None
    # An upload whose body sends nothing for this long is answered 408.
    upload_stall_s: float = 30.0
    # An upload not complete after this long is answered 408 (10 MiB needs about 12 KiB/s).
    upload_deadline_s: float = 900.0
    storage_breaker_failures: int = 5
    storage_breaker_window_s: float = 60.0
    storage_breaker_open_s: float = 30.0
    storage_breaker_successes: int = 2
    cpu_limit_percent: float = 80.0
    memory_limit_percent: float = 85.0
    resource_sample_s: float = 5.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> EdgeSettings:
        env = dict(os.environ if env is None else env)
        database_url = env.get("EDGE_DATABASE_URL") or env.get("DATABASE_URL")
        if not database_url:
            raise SettingsError("set EDGE_DATABASE_URL or DATABASE_URL (make run writes var/run.env)")
        if not env.get("JWT_SECRET") and not env.get("JWT_JWKS_URL"):
            raise SettingsError("set JWT_SECRET (HS256) or JWT_JWKS_URL to verify access tokens")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or "redis://127.0.0.1:63790/0",
            jwt_secret=env.get("JWT_SECRET") or None,
            jwt_jwks_url=env.get("JWT_JWKS_URL") or None,
            jwt_audience=env.get("JWT_AUDIENCE") or "authenticated",
            db_pool_min=_int(env, "DB_POOL_MIN", 10),
            db_pool_max=_int(env, "DB_POOL_MAX", 50),
            debug=env.get("EDGE_DEBUG", "").lower() in ("1", "true", "yes"),
            rate_limits=_limits(env.get("RATE_LIMITS")),
            response_cache=env.get("RESPONSE_CACHE", "on").lower() not in ("0", "off", "false", "no"),
            sse_heartbeat_s=float(_int(env, "SSE_HEARTBEAT_S", 15)),
            sse_record_ttl_s=_int(env, "SSE_RECORD_TTL_S", 30),
            sse_queue_bytes=_int(env, "SSE_QUEUE_BYTES", 1024 * 1024),
            storage_dir=env.get("STORAGE_DIR") or "var/storage/certificates",
            supabase_url=env.get("SUPABASE_URL") or None,
            supabase_service_key=env.get("SUPABASE_SERVICE_ROLE_KEY")
            or env.get("SUPABASE_SERVICE_KEY")
            or None,
            storage_bucket=env.get("STORAGE_BUCKET") or "medical-certificates",
            file_url_secret=env.get("FILE_URL_SECRET") or None,
            public_url=(env.get("PUBLIC_URL") or "").rstrip("/") or None,
            upload_stall_s=float(_int(env, "UPLOAD_STALL_S", 30)),
            upload_deadline_s=float(_int(env, "UPLOAD_DEADLINE_S", 900)),
            storage_breaker_open_s=float(_int(env, "STORAGE_BREAKER_OPEN_S", 30)),
        )

    def signing_key(self) -> bytes:
        """The key download URLs are signed with: FILE_URL_SECRET, else one derived from the JWT
        secret (never the JWT secret itself), else a key of this process alone."""
        if self.file_url_secret:
            return self.file_url_secret.encode()
        if self.jwt_secret:
            return hmac.new(self.jwt_secret.encode(), b"attendance signed file urls", hashlib.sha256).digest()
        return _PROCESS_KEY
