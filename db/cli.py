"""`python -m db <command>`: the DBA's and developer's entry point."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from types import FrameType

import psycopg
import redis
from psycopg.conninfo import conninfo_to_dict

from db import migrate as runner
from db.config import ConfigError, Settings
from db.services import EmbeddedPostgres, EmbeddedRedis, ServiceError, port_in_use
from db.stack import Stack
from db.tokens import mint


def _check_url(name: str, url: str) -> None:
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(
            f"{name} is malformed ({reason}); expected postgresql://user:pass@host:port/db"
        ) from exc


def _redis_client(url: str) -> redis.Redis:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=5)
    except ValueError as exc:
        raise ConfigError(
            f"REDIS_URL is malformed ({exc}); expected redis://[:password@]host:port/db"
        ) from exc


def _check_redis(url: str) -> None:
    client = _redis_client(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach REDIS_URL: {' '.join(str(exc).split())}") from exc
    finally:
        client.close()


def _check_reachable(name: str, url: str) -> None:
    _check_url(name, url)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        info = conninfo_to_dict(url)
        where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        reason = str(exc).strip().splitlines()[-1]
        raise ConfigError(f"cannot connect to {name} ({where}): {reason}") from exc


@contextlib.contextmanager
def database(stack: Stack) -> Iterator[str]:
    """The database URL; the embedded Postgres is started for the call if it is not running."""
    pg = stack.postgres
    started = False
    if pg is not None and not pg.is_running():
        pg.start()
        started = True
    elif pg is not None:
        pg.ensure_database()
    try:
        _check_reachable("DATABASE_URL", stack.database_url)
        yield stack.database_url
    finally:
        if started and pg is not None:
            pg.stop()


def cmd_migrate(stack: Stack, _: argparse.Namespace) -> int:
    with database(stack) as url:
        applied = runner.migrate(url)
        stack.set_authenticator_password()
    print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def cmd_status(stack: Stack, _: argparse.Namespace) -> int:
    with database(stack) as url:
        rows = runner.status(url)
    for row in rows:
        print(f"{row.version}  {row.state:<12}  {row.name}")
    return 1 if any(r.state in ("changed", "missing-file") for r in rows) else 0


def cmd_token(stack: Stack, args: argparse.Namespace) -> int:
    print(mint(stack.jwt_secret, args.user, ttl_seconds=args.ttl))
    return 0


def cmd_stop(stack: Stack, _: argparse.Namespace) -> int:
    for service in (stack.redis, stack.postgres):
        if service is not None:
            service.stop()
    print("embedded services stopped")
    return 0


def _is_empty(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("select not exists (select 1 from app.students)").fetchone()
    return bool(row and row[0])


def cmd_reset(stack: Stack, args: argparse.Namespace) -> int:
    from db.seed import seed

    if stack.postgres is None:
        raise ConfigError("db-reset rebuilds the embedded database only; unset DATABASE_URL")
    pg = stack.postgres
    started = not pg.is_running()
    if started:
        pg.start()
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{pg.dbname}" with (force)')
        pg.ensure_database()
        runner.migrate(pg.url())
        stack.set_authenticator_password()
        seed(pg.url(), jwt_secret=stack.jwt_secret)
    finally:
        if started:
            pg.stop()
    return 0


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def cmd_run(stack: Stack, args: argparse.Namespace) -> int:
    """Start what is missing, migrate, seed an empty database, serve the edge until stopped."""
    from db.seed import seed

    if port_in_use(stack.settings.edge_port):
        raise ServiceError(
            f"port {stack.settings.edge_port} is already taken: stop what uses it or set EDGE_PORT"
        )
    # Malformed settings stop the run before anything is started.
    if stack.settings.database_url is not None:
        _check_url("DATABASE_URL", stack.settings.database_url)
    if stack.settings.redis_url is not None:
        _redis_client(stack.settings.redis_url).close()
    signal.signal(signal.SIGTERM, _raise_stop)
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    edge: subprocess.Popen[bytes] | None = None
    try:
        for service in (stack.postgres, stack.redis):
            if service is not None and not service.is_running():
                service.start()
                started.append(service)
        if stack.postgres is not None:
            stack.postgres.ensure_database()
        _check_reachable("DATABASE_URL", stack.database_url)
        _check_redis(stack.redis_url)
        runner.migrate(stack.database_url)
        stack.set_authenticator_password()
        if _is_empty(stack.database_url):
            seed(stack.database_url, jwt_secret=stack.jwt_secret)
        stack.write_env_file()
        env = {**os.environ, **stack.env()}
        from edge import hypercorn_command

        edge = subprocess.Popen(
            hypercorn_command(f"127.0.0.1:{stack.settings.edge_port}"),
            env=env,
        )
        print(f"edge:      {stack.edge_url}  (GET /readyz)")
        print(f"settings:  source {stack.settings.var_dir / 'run.env'}")
        print("Ctrl-C stops everything this command started.")
        edge.wait()
        return edge.returncode or 0
    except (KeyboardInterrupt, _StopRequestedError):
        return 0
    finally:
        if edge is not None and edge.poll() is None:
            edge.terminate()
            try:
                edge.wait(timeout=15)
            except subprocess.TimeoutExpired:
                edge.kill()
        for service in reversed(started):
            service.stop()


def cmd_schema(stack: Stack, args: argparse.Namespace) -> int:
    from db.lint import check_schema_dump

    return check_schema_dump(write=args.write)


def cmd_lint(stack: Stack, args: argparse.Namespace) -> int:
    from db.lint import lint

    return lint()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("status", help="applied and pending migrations").set_defaults(func=cmd_status)
    sub.add_parser("run", help="start everything and serve the edge").set_defaults(func=cmd_run)
    sub.add_parser("stop", help="stop embedded services").set_defaults(func=cmd_stop)
    sub.add_parser("reset", help="rebuild the embedded database").set_defaults(func=cmd_reset)
    token = sub.add_parser("token", help="mint a development JWT")
    token.add_argument("--user", required=True, type=uuid.UUID, help="the user id (sub claim), a uuid")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(func=cmd_token)
    schema = sub.add_parser("schema", help="check (or --write) db/schema.sql")
    schema.add_argument("--write", action="store_true")
    schema.set_defaults(func=cmd_schema)
    sub.add_parser("lint", help="plpgsql_check and the schema dump check").set_defaults(func=cmd_lint)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        stack = Stack.from_settings(Settings.from_env())
        return int(args.func(stack, args))
    except (ConfigError, ServiceError, runner.MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
