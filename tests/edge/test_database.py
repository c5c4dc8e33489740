"""How the edge runs SQL as the caller: role and claims for one statement, gone afterwards."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from quart import Quart

from db.seed import SeedResult
from edge.db import Database
from edge.errors import ValidationError


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
