"""The database the toolbox works on: DATABASE_URL when it is set, else the embedded cluster
under var/ (started for as long as a command needs it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from db.cluster import EmbeddedPostgres
from db.config import ConfigError, Settings, local_secrets


def check_url(name: str, url: str) -> None:
    """ConfigError naming the setting when `url` is not a Postgres connection string."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(
            f"{name} is malformed ({reason}); expected postgresql://user:pass@host:port/db"
        ) from exc


def check_reachable(name: str, url: str) -> None:
    """ConfigError naming the setting and the server when nothing answers at `url`."""
    check_url(name, url)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        info = conninfo_to_dict(url)
        where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        reason = str(exc).strip().splitlines()[-1]
        raise ConfigError(f"cannot connect to {name} ({where}): {reason}") from exc


@dataclass(frozen=True)
class LocalDatabase:
    settings: Settings
    postgres: EmbeddedPostgres | None
    secrets: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDatabase:
        secrets = local_secrets(settings.var_dir)
        postgres = None
        if settings.database_url is None:
            postgres = EmbeddedPostgres(
                datadir=settings.var_dir / "pg",
                port=settings.pg_port,
                dbname=settings.dbname,
                password=secrets["pg_password"],
            )
        return cls(settings, postgres, secrets)

    @property
    def url(self) -> str:
        """The database owner's connection, as a DBA would use it."""
        if self.settings.database_url is not None:
            return self.settings.database_url
        assert self.postgres is not None
        return self.postgres.url()

    @property
    def edge_url(self) -> str:
        """The connection of the edge's login role, `authenticator`."""
        if self.settings.edge_database_url is not None:
            return self.settings.edge_database_url
        if self.postgres is None:
            return self.url
        return self.postgres.url(user="authenticator", password=self.secrets["authenticator_password"])

    @property
    def jobs_url(self) -> str:
        """The connection of the jobs worker's login role, `jobs_worker`."""
        if self.settings.jobs_database_url is not None:
            return self.settings.jobs_database_url
        if self.postgres is None:
            return self.url
        return self.postgres.url(user="jobs_worker", password=self.secrets["jobs_password"])

    @property
    def jwt_secret(self) -> str:
        return self.settings.jwt_secret or self.secrets["jwt_secret"]

    def set_authenticator_password(self) -> None:
        """The embedded cluster's login roles (the edge's and the worker's) get their generated
        passwords; the worker's role, created without login by the migrations, may log in."""
        if self.postgres is None:
            return
        with psycopg.connect(self.url, autocommit=True) as conn:
            for role, secret in (
                ("authenticator", "authenticator_password"),
                ("jobs_worker", "jobs_password"),
            ):
                conn.execute(
                    psycopg.sql.SQL("alter role {} login password {}").format(
                        psycopg.sql.Identifier(role), psycopg.sql.Literal(self.secrets[secret])
                    )
                )

    def is_empty(self) -> bool:
        """No students yet: a fresh database that `make run` seeds."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute("select not exists (select 1 from app.students)").fetchone()
        return bool(row and row[0])

    @contextlib.contextmanager
    def opened(self) -> Iterator[str]:
        """The database URL; the embedded cluster is started for the call if it is not running."""
        pg = self.postgres
        started = False
        if pg is not None and not pg.is_running():
            pg.start()
            started = True
        elif pg is not None:
            pg.ensure_database()
        try:
            check_reachable("DATABASE_URL", self.url)
            yield self.url
        finally:
            if started and pg is not None:
                pg.stop()
