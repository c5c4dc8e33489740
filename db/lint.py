"""Database lint: plpgsql_check over every PL/pgSQL function, Supabase's advisors, and the
db/schema.sql check."""

from __future__ import annotations

import difflib
import subprocess
import sys

import psycopg

from db import advisors
from db.cluster import PG_BINDIR
from db.config import SCHEMA_DUMP
from db.migrate import migrate
from db.tempcluster import temp_cluster

# pgmq is vendored SQL (installed from the pgmq package), not ours to lint or to review.
OWN_SCHEMAS = ("app", "api", "analytics", "audit", "audit_archive", "auth")

FUNCTIONS_SQL = """
select p.oid, p.oid::regprocedure::text, t.tgrelid, p.prorettype = 'trigger'::regtype as is_trigger,
       t.tgoldtable, t.tgnewtable
from pg_proc as p
join pg_namespace as n on n.oid = p.pronamespace
join pg_language as l on l.oid = p.prolang
left join lateral (
    -- A trigger function is checked against a table it is attached to, with its transition tables.
    select tgrelid, tgoldtable, tgnewtable from pg_trigger
    where tgfoid = p.oid
    order by (tgoldtable is not null)::int + (tgnewtable is not null)::int desc
    limit 1
) as t on true
where l.lanname = 'plpgsql' and n.nspname = any(%s)
order by 2
"""


def plpgsql_problems(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    conn.execute("create extension if not exists plpgsql_check")
    problems: list[str] = []
    for oid, name, relid, is_trigger, oldtable, newtable in conn.execute(
        FUNCTIONS_SQL, (list(OWN_SCHEMAS),)
    ).fetchall():
        if is_trigger and relid is None:
            problems.append(f"{name}: trigger function not attached to any table")
            continue
        rows = conn.execute(
            "select level, message, lineno, statement from plpgsql_check_function_tb("
            "%s, coalesce(%s, 0), oldtable => %s, newtable => %s)",
            (oid, relid, oldtable, newtable),
        ).fetchall()
        for level, message, lineno, statement in rows:
            if level in ("error", "warning", "warning extra"):
                problems.append(f"{name}:{lineno} {level}: {message} ({statement})")
    return problems


def dump_schema(url: str) -> str:
    out = subprocess.run(
        [
            str(PG_BINDIR / "pg_dump"),
            "--schema-only",
            "--exclude-schema=pgmq",
            # Monthly audit partitions are named after the month the database was built in.
            "--exclude-table=audit.audit_logs_y*",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    keep = [
        line
        for line in out.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict", "-- Dumped from", "-- Dumped by"))
    ]
    return "\n".join(keep).strip() + "\n"


def _migrated_dump() -> str:
    with temp_cluster() as pg:
        migrate(pg.url(), log=lambda _: None)
        return dump_schema(pg.url())


def check_schema_dump(write: bool = False, dump: str | None = None) -> int:
    fresh = dump if dump is not None else _migrated_dump()
    if write:
        SCHEMA_DUMP.write_text(fresh)
        print(f"wrote {SCHEMA_DUMP.relative_to(SCHEMA_DUMP.parent.parent)}")
        return 0
    current = SCHEMA_DUMP.read_text() if SCHEMA_DUMP.exists() else ""
    if current == fresh:
        print("db/schema.sql is up to date")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(),
        fresh.splitlines(),
        "db/schema.sql",
        "migrated database",
        lineterm="",
        n=2,
    )
    print("\n".join(list(diff)[:80]), file=sys.stderr)
    print("db/schema.sql is stale: run `make db-schema` and commit it", file=sys.stderr)
    return 1


def lint() -> int:
    with temp_cluster() as pg:
        migrate(pg.url(), log=lambda _: None)
        dump = dump_schema(pg.url())
        # Before plpgsql_check, whose extension would be one more object to advise on.
        findings = advisors.check(pg.url())
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            problems = plpgsql_problems(conn)
    for problem in problems:
        print(f"plpgsql_check: {problem}", file=sys.stderr)
    if not problems:
        print("plpgsql_check: no problems")
    for finding in findings:
        print(f"supabase db advisors: {finding}", file=sys.stderr)
    if not findings:
        print("supabase db advisors: no warnings")
    return max(1 if problems or findings else 0, check_schema_dump(dump=dump))
