"""The worker's settings, read from the environment once."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _number(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    username: str | None
    password: str | None
    # smtps:// is TLS from the start; smtp://...?starttls=1 upgrades; plain otherwise.
    use_tls: bool
    start_tls: bool

    @classmethod
    def from_url(cls, url: str) -> Smtp:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("SMTP_URL must look like smtp://[user:password@]host:port (or smtps://)")
        query = urllib.parse.parse_qs(parts.query)
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise SettingsError("SMTP_URL has a malformed port") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        )


@dataclass(frozen=True)
class Settings:
    database_url: str
    smtp: Smtp
    mail_from: str
    preferences_url: str
    metrics_port: int | None
    # Messages read per queue and round; visibility timeout of a read message.
    batch: int
    visibility_s: int
    # Without a notification, queues are read at least this often.
    poll_s: float
    attempts: int
    # Retry n waits backoff_s * 2 ** (n - 1), capped at the visibility timeout's scale.
    backoff_s: float
    smtp_connections: int
    smtp_timeout_s: float
    # On SIGTERM, work in flight gets this long to finish.
    drain_s: float
    # Lower queues get a share of each round once they have waited this long behind urgent work.
    starvation_s: float
    # Where archived months of the audit log are written (files and manifests).
    archive_dir: Path
    # Certificate files: the edge's storage (a directory, or Supabase Storage when both set).
    storage_dir: Path
    supabase_url: str | None
    supabase_service_key: str | None = field(repr=False)
    storage_bucket: str
    # clamd's INSTREAM: tcp://host:port or unix:///path; unset: built-in checks only.
    clamd_url: str | None
    clamd_timeout_s: float

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        database_url = env.get("JOBS_DATABASE_URL") or env.get("DATABASE_URL")
        if not database_url:
            raise SettingsError("DATABASE_URL (or JOBS_DATABASE_URL) is not set")
        port = env.get("JOBS_METRICS_PORT", "")
        edge = env.get("EDGE_URL", "http://127.0.0.1:8000").rstrip("/")
        return cls(
            database_url=database_url,
            smtp=Smtp.from_url(env.get("SMTP_URL") or "smtp://127.0.0.1:8025"),
            mail_from=env.get("MAIL_FROM") or "Attendance <attendance@localhost>",
            preferences_url=env.get("PREFERENCES_URL") or f"{edge}/api/students/preferences",
            metrics_port=int(_number(env, "JOBS_METRICS_PORT", 0, 1, 65535)) if port else None,
            batch=int(_number(env, "JOBS_BATCH", 100, 1, 10000)),
            visibility_s=int(_number(env, "JOBS_VISIBILITY_S", 30, 1, 3600)),
            poll_s=_number(env, "JOBS_POLL_S", 1.0, 0.01, 60),
            attempts=int(_number(env, "JOBS_ATTEMPTS", 3, 1, 20)),
            backoff_s=_number(env, "JOBS_BACKOFF_S", 2.0, 0, 600),
            smtp_connections=int(_number(env, "SMTP_CONNECTIONS", 4, 1, 64)),
            smtp_timeout_s=_number(env, "SMTP_TIMEOUT_S", 10.0, 0.1, 300),
            drain_s=_number(env, "JOBS_DRAIN_S", 10.0, 0, 300),
            starvation_s=_number(env, "JOBS_STARVATION_S", 5.0, 0, 3600),
            archive_dir=Path(env.get("ARCHIVE_DIR") or "var/storage/audit-archive").resolve(),
            storage_dir=Path(env.get("STORAGE_DIR") or "var/storage/certificates").resolve(),
            supabase_url=env.get("SUPABASE_URL") or None,
            supabase_service_key=env.get("SUPABASE_SERVICE_ROLE_KEY") or None,
            storage_bucket=env.get("STORAGE_BUCKET") or "medical-certificates",
            clamd_url=env.get("CLAMD_URL") or None,
            clamd_timeout_s=_number(env, "CLAMD_TIMEOUT_S", 30.0, 0.1, 600),
        )
