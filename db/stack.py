"""The embedded stack of `make run`: which services to start and the URLs that reach them."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from db.config import Settings, local_secrets
from db.services import EmbeddedPostgres, EmbeddedRedis


@dataclass(frozen=True)
class Stack:
    settings: Settings
    postgres: EmbeddedPostgres | None
    redis: EmbeddedRedis | None
    secrets: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Stack:
        secrets = local_secrets(settings.var_dir)
        postgres = None
        if settings.database_url is None:
            postgres = EmbeddedPostgres(
                datadir=settings.var_dir / "pg",
                port=settings.pg_port,
                dbname=settings.dbname,
                password=secrets["pg_password"],
            )
        redis = None
        if settings.redis_url is None:
            redis = EmbeddedRedis(
                workdir=settings.var_dir / "redis",
                port=settings.redis_port,
                password=secrets["redis_password"],
            )
        return cls(settings, postgres, redis, secrets)

    @property
    def database_url(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url
        assert self.postgres is not None
        return self.postgres.url()

    @property
    def edge_database_url(self) -> str:
        if self.settings.edge_database_url is not None:
            return self.settings.edge_database_url
        if self.postgres is None:
            return self.database_url
        return self.postgres.url(user="authenticator", password=self.secrets["authenticator_password"])

    @property
    def redis_url(self) -> str:
        if self.settings.redis_url is not None:
            return self.settings.redis_url
        assert self.redis is not None
        return self.redis.url()

    @property
    def jwt_secret(self) -> str:
        return self.settings.jwt_secret or self.secrets["jwt_secret"]

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.edge_port}"

    def set_authenticator_password(self) -> None:
        """The embedded cluster's edge login role gets the generated password."""
        if self.postgres is None:
            return
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("alter role authenticator password {}").format(
                    psycopg.sql.Literal(self.secrets["authenticator_password"])
                )
            )

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "EDGE_DATABASE_URL": self.edge_database_url,
            "REDIS_URL": self.redis_url,
            "JWT_SECRET": self.jwt_secret,
            "EDGE_URL": self.edge_url,
            "EDGE_PORT": str(self.settings.edge_port),
        }

    def write_env_file(self) -> None:
        path = self.settings.var_dir / "run.env"
        path.write_text("".join(f"export {k}='{v}'\n" for k, v in self.env().items()))
        path.chmod(0o600)
