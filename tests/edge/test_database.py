"""How the edge runs SQL as the caller: role and claims for one statement, gone afterwards."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from quart import Quart

from db.cluster import free_port
from db.seed import SeedResult
from edge.db import Database
from edge.errors import ServiceUnavailableError, ValidationError


def database(app: Quart) -> Database:
    db: Database = app.extensions["edge"].db
    return db


async def test_the_statement_runs_as_authenticated_with_the_callers_claims(
    app: Quart, school: SeedResult
) -> None:
    claims = {"sub": str(school.demo_student_id), "role": "authenticated", "note": 'it\'s "quoted" %s'}
    row = await database(app).call_as(
        claims, "select json_build_array(current_user, current_setting('request.jwt.claims'), auth.uid())"
    )
    assert row[0] == "authenticated"
    assert json.loads(row[1]) == claims, "claims arrive intact, quotes and percent signs included"
    assert row[2] == str(school.demo_student_id)


async def test_role_and_claims_end_with_the_statement(app: Quart, school: SeedResult) -> None:
    db = database(app)
    await db.pool.resize(1, 1)  # one connection: the next statement surely reuses it
    await db.call_as({"sub": str(school.demo_student_id), "role": "authenticated"}, "select 1")
    after = await db.call_as_edge(
        "select json_build_array(current_user, coalesce(current_setting('request.jwt.claims', true), ''))"
    )
    assert after == ["authenticator", ""]


async def test_parameters_are_bound_as_literals(
    app: Quart, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    claims = {"sub": str(school.demo_student_id), "role": "authenticated"}
    hostile = "x'); drop table app.attendance_records; --"
    assert await database(app).call_as(claims, "select %s::text", (hostile,)) == hostile
    assert db.execute("select to_regclass('app.attendance_records') is not null").fetchone() == (True,)


async def test_an_error_in_the_statement_is_mapped_and_leaves_the_connection_usable(
    app: Quart, school: SeedResult
) -> None:
    db = database(app)
    await db.pool.resize(1, 1)
    claims = {"sub": str(school.demo_student_id), "role": "authenticated"}
    with pytest.raises(ValidationError):
        await db.call_as(claims, "select api.weekly_attendance(%s)", ("2026-W99",))
    assert await db.call_as(claims, "select current_user") == "authenticated"


@pytest.mark.parametrize(("read_only", "attempts"), [(True, 4), (False, 1)])
async def test_reads_are_tried_once_then_after_each_delay_and_writes_only_once(
    read_only: bool, attempts: int
) -> None:
    """P39 on the Database itself, against a port where nothing listens: a read is attempted,
    then again after each delay (the delays add up), then answered 503; a write is never
    retried, since a dropped connection may have committed it."""
    pool = AsyncConnectionPool(
        f"postgresql://authenticator@127.0.0.1:{free_port()}/none",
        min_size=0,
        max_size=1,
        open=False,
        timeout=0.05,
    )
    await pool.open(wait=False)
    db = Database(pool, (0.05, 0.1, 0.2))
    tried = 0
    first_column = db._first_column

    async def counted(statement: str, args: Any) -> Any:
        nonlocal tried
        tried += 1
        return await first_column(statement, args)

    db._first_column = counted  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        with pytest.raises(ServiceUnavailableError):
            await db.call_as({"sub": "x"}, "select 1", read_only=read_only)
    finally:
        await pool.close()
    assert tried == attempts
    if read_only:
        assert time.monotonic() - started >= 0.35, "waited 0.05 + 0.1 + 0.2 s between attempts"
