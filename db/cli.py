"""`python -m db <command>`: the DBA's and developer's database commands."""

from __future__ import annotations

import argparse
import sys
import uuid

import psycopg

from db import migrate as runner
from db.cluster import ServiceError
from db.config import ConfigError, Settings
from db.local import LocalDatabase
from db.tokens import mint


def cmd_migrate(database: LocalDatabase, _: argparse.Namespace) -> int:
    with database.opened() as url:
        applied = runner.migrate(url)
        database.set_authenticator_password()
    print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def cmd_status(database: LocalDatabase, _: argparse.Namespace) -> int:
    with database.opened() as url:
        rows = runner.status(url)
    for row in rows:
        print(f"{row.version}  {row.state:<12}  {row.name}")
    return 1 if any(r.state in ("changed", "missing-file") for r in rows) else 0


def cmd_token(database: LocalDatabase, args: argparse.Namespace) -> int:
    print(mint(database.jwt_secret, args.user, ttl_seconds=args.ttl))
    return 0


def cmd_reset(database: LocalDatabase, args: argparse.Namespace) -> int:
    from db.seed import seed

    if database.postgres is None:
        raise ConfigError("db-reset rebuilds the embedded database only; unset DATABASE_URL")
    pg = database.postgres
    started = not pg.is_running()
    if started:
        pg.start()
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{pg.dbname}" with (force)')
        pg.ensure_database()
        runner.migrate(pg.url())
        database.set_authenticator_password()
        seed(pg.url(), jwt_secret=database.jwt_secret)
    finally:
        if started:
            pg.stop()
    return 0


def cmd_schema(database: LocalDatabase, args: argparse.Namespace) -> int:
    from db.lint import check_schema_dump

    return check_schema_dump(write=args.write)


def cmd_lint(database: LocalDatabase, args: argparse.Namespace) -> int:
    from db.lint import lint

    return lint()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("status", help="applied and pending migrations").set_defaults(func=cmd_status)
    sub.add_parser("reset", help="rebuild the embedded database").set_defaults(func=cmd_reset)
    token = sub.add_parser("token", help="mint a development JWT")
    token.add_argument("--user", required=True, type=uuid.UUID, help="the user id (sub claim), a uuid")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(func=cmd_token)
    schema = sub.add_parser("schema", help="check (or --write) db/schema.sql")
    schema.add_argument("--write", action="store_true")
    schema.set_defaults(func=cmd_schema)
    sub.add_parser("lint", help="plpgsql_check, Supabase's advisors and the schema dump check").set_defaults(
        func=cmd_lint
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        database = LocalDatabase.from_settings(Settings.from_env())
        return int(args.func(database, args))
    except (ConfigError, ServiceError, runner.MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
