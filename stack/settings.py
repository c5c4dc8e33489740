"""What the local stack runs and how to reach it, read from the environment once: the database
(db.local), Redis and the edge. A URL that is set means that service is someone else's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import redis

from db.config import ConfigError, Settings, port
from db.local import LocalDatabase, check_url
from stack.clamd import EmbeddedClamd
from stack.redis_server import EmbeddedRedis


@dataclass(frozen=True)
class Stack:
    database: LocalDatabase
    redis: EmbeddedRedis | None
    external_redis_url: str | None
    edge_port: int
    # The mail sink runs unless SMTP_URL names a server of someone else's.
    smtp_port: int = 8025
    external_smtp_url: str | None = None
    jobs_metrics_port: int = 9102
    # The scanner's clamd runs unless CLAMD_URL names one of someone else's.
    clamd_port: int = 3310
    external_clamd_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Stack:
        env = dict(os.environ if env is None else env)
        database = LocalDatabase.from_settings(Settings.from_env(env))
        redis_port = port(env, "REDIS_PORT", 63790)
        edge_port = port(env, "EDGE_PORT", 8000)
        external = env.get("REDIS_URL") or None
        embedded = None
        if external is None:
            embedded = EmbeddedRedis(
                workdir=database.settings.var_dir / "redis",
                port=redis_port,
                password=database.secrets["redis_password"],
            )
        return cls(
            database,
            embedded,
            external,
            edge_port,
            smtp_port=port(env, "SMTP_PORT", 8025),
            external_smtp_url=env.get("SMTP_URL") or None,
            jobs_metrics_port=port(env, "JOBS_METRICS_PORT", 9102),
            clamd_port=port(env, "CLAMD_PORT", 33100),
            external_clamd_url=env.get("CLAMD_URL") or None,
        )

    @property
    def var_dir(self) -> Path:
        return self.database.settings.var_dir

    @property
    def redis_url(self) -> str:
        if self.external_redis_url is not None:
            return self.external_redis_url
        assert self.redis is not None
        return self.redis.url()

    @property
    def smtp_url(self) -> str:
        return self.external_smtp_url or f"smtp://127.0.0.1:{self.smtp_port}"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def clamd(self) -> EmbeddedClamd:
        return EmbeddedClamd(self.var_dir / "clamd", self.clamd_port)

    @property
    def clamd_url(self) -> str:
        return self.external_clamd_url or self.clamd.url()

    @property
    def storage_dir(self) -> Path:
        return self.var_dir / "storage" / "certificates"

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.edge_port}"

    def check_settings(self) -> None:
        """Malformed URLs stop the run before anything starts (ConfigError naming the setting)."""
        if self.database.settings.database_url is not None:
            check_url("DATABASE_URL", self.database.settings.database_url)
        if self.external_redis_url is not None:
            try:
                redis.Redis.from_url(self.external_redis_url).close()
            except ValueError as exc:
                raise ConfigError(
                    f"REDIS_URL is malformed ({exc}); expected redis://[:password@]host:port/db"
                ) from exc

    def env(self) -> dict[str, str]:
        """The settings every process of the stack gets, and var/run.env holds."""
        return {
            "DATABASE_URL": self.database.url,
            "EDGE_DATABASE_URL": self.database.edge_url,
            "JOBS_DATABASE_URL": self.database.jobs_url,
            "REDIS_URL": self.redis_url,
            "JWT_SECRET": self.database.jwt_secret,
            "EDGE_URL": self.edge_url,
            "EDGE_PORT": str(self.edge_port),
            "SMTP_URL": self.smtp_url,
            "ARCHIVE_DIR": str(self.var_dir / "storage" / "audit-archive"),
            "JOBS_METRICS_PORT": str(self.jobs_metrics_port),
            "STORAGE_DIR": str(self.storage_dir),
            "FILE_URL_SECRET": self.database.secrets["file_url_secret"],
            "PUBLIC_URL": self.edge_url,
            "CLAMD_URL": self.clamd_url,
        }

    def write_env_file(self) -> Path:
        path = self.var_dir / "run.env"
        path.write_text("".join(f"export {k}='{v}'\n" for k, v in self.env().items()))
        path.chmod(0o600)
        return path
