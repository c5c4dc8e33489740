"""Apply `supabase/migrations/*.sql` to a database, recording them as the Supabase CLI does.

Each file runs in its own transaction; the whole run holds an advisory lock so that two
runners never interleave. The history lives in `supabase_migrations.schema_migrations`
(the CLI's table), so a database migrated by either tool is migrated for the other. A
checksum of each applied file is kept beside it: a file changed after it was applied stops
the run. On a plain server the Supabase-compatibility bootstrap and pgmq come first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import psycopg
import sqlparse

from db.config import MIGRATIONS_DIR

# Arbitrary but fixed: every runner of this project takes the same advisory lock.
LOCK_KEY = 7_245_120_391
FILENAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

HISTORY_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text not null primary key,
    statements text[],
    name text
);
create table if not exists supabase_migrations.schema_migration_checksums (
    version text not null primary key,
    sha256 text not null,
    recorded_at timestamptz not null default now()
);
"""


class MigrationError(Exception):
    """A migration could not be applied or the history does not match the files."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def statements(self) -> list[str]:
        """The file split into statements, as the Supabase CLI records them."""
        out = []
        for stmt in sqlparse.split(self.sql):
            if sqlparse.format(stmt, strip_comments=True).strip():
                out.append(stmt.strip())
        return out


@dataclass(frozen=True)
class Status:
    version: str
    name: str
    state: str  # applied | pending | changed | missing-file


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named <yyyymmddhhmmss>_<verb_object>.sql")
        migrations.append(Migration(match["version"], match["name"], path, path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version")
    return migrations


def _error_line(sql: str, exc: psycopg.Error) -> int | None:
    position = exc.diag.statement_position
    if position and position.isdigit():
        return sql[: int(position) - 1].count("\n") + 1
    return None


def _describe(migration: Migration, exc: psycopg.Error) -> str:
    line = _error_line(migration.sql, exc)
    where = f"{migration.path.name}:{line}" if line else migration.path.name
    message = (exc.diag.message_primary or str(exc)).strip()
    detail = f" ({exc.diag.context.strip().splitlines()[0]})" if exc.diag.context else ""
    return f"{where}: {message} [SQLSTATE {exc.sqlstate}]{detail}"


def _prepare(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Bootstrap (plain Postgres only), pgmq and the history tables, all idempotent."""
    from pgmq.install import get_embedded_install_sql

    with conn.transaction():
        conn.execute(files("db").joinpath("bootstrap.sql").read_text(encoding="utf-8"))
        row = conn.execute("select to_regclass('pgmq.meta') is null").fetchone()
        if row and row[0]:
            conn.execute(get_embedded_install_sql())
        conn.execute(HISTORY_SQL)


def _history(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, str | None]:
    rows = conn.execute(
        """
        select m.version, c.sha256
        from supabase_migrations.schema_migrations as m
        left join supabase_migrations.schema_migration_checksums as c using (version)
        """
    ).fetchall()
    return {str(version): (str(sha) if sha else None) for version, sha in rows}


def _check_unchanged(
    conn: psycopg.Connection[tuple[object, ...]],
    migrations: Iterable[Migration],
    history: dict[str, str | None],
) -> None:
    for migration in migrations:
        if migration.version not in history:
            continue
        recorded = history[migration.version]
        if recorded is None:
            # Applied by the Supabase CLI, which keeps no checksum: remember this content.
            conn.execute(
                "insert into supabase_migrations.schema_migration_checksums (version, sha256)"
                " values (%s, %s) on conflict (version) do nothing",
                (migration.version, migration.checksum),
            )
        elif recorded != migration.checksum:
            raise MigrationError(
                f"{migration.path.name} was changed after it was applied; applied migrations are "
                "immutable: restore the file and put the change in a new migration"
            )


def migrate(
    dsn: str,
    directory: Path = MIGRATIONS_DIR,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Apply pending migrations in order; return the versions applied by this call."""
    migrations = discover(directory)
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            _prepare(conn)
            history = _history(conn)
            _check_unchanged(conn, migrations, history)
            for migration in migrations:
                if migration.version in history:
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql.encode())
                        conn.execute(
                            "insert into supabase_migrations.schema_migrations"
                            " (version, name, statements) values (%s, %s, %s)",
                            (migration.version, migration.name, migration.statements),
                        )
                        conn.execute(
                            "insert into supabase_migrations.schema_migration_checksums"
                            " (version, sha256) values (%s, %s)"
                            " on conflict (version) do update set sha256 = excluded.sha256",
                            (migration.version, migration.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(_describe(migration, exc)) from exc
                applied_now.append(migration.version)
                log(f"applied {migration.path.name}")
        finally:
            if not conn.closed:
                conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


def status(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[Status]:
    migrations = discover(directory)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations') is not null"
        ).fetchone()
        history: dict[str, str | None] = {}
        if exists and exists[0]:
            checksums = conn.execute(
                "select to_regclass('supabase_migrations.schema_migration_checksums') is not null"
            ).fetchone()
            if checksums and checksums[0]:
                history = _history(conn)
            else:
                rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
                history = {str(v): None for (v,) in rows}
    out = []
    for m in migrations:
        if m.version not in history:
            state = "pending"
        elif history[m.version] not in (None, m.checksum):
            state = "changed"
        else:
            state = "applied"
        out.append(Status(m.version, m.name, state))
    known = {m.version for m in migrations}
    out += [Status(v, "?", "missing-file") for v in sorted(history) if v not in known]
    return out
