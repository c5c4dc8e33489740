"""Helpers for database tests: acting as a user exactly as PostgREST does."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads


def decimal_json(conn: psycopg.Connection[Any]) -> None:
    """Read json numbers as Decimal, so rates compare exactly."""
    set_json_loads(partial(json.loads, parse_float=Decimal), conn)


def call_as(
    conn: psycopg.Connection[Any], user: uuid.UUID | None, sql: str, params: tuple[Any, ...] = ()
) -> Any:
    """Run one query as `user` (role authenticated + JWT claims, in one transaction); first column."""
    with conn.transaction():
        conn.execute("set local role authenticated")
        claims = {"role": "authenticated", "aud": "authenticated"}
        if user is not None:
            claims["sub"] = str(user)
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute(sql, params).fetchone()
        conn.execute("reset role")
    return None if row is None else row[0]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `predicate()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class School:
    """One class with a teacher and `students` students, written as the database owner."""

    DAY = dt.date(2026, 11, 2)

    def __init__(self, db: psycopg.Connection[Any], students: int = 4) -> None:
        self.db = db
        self.class_id = uuid.uuid4()
        self.teacher = uuid.uuid4()
        self.students = [uuid.uuid4() for _ in range(students)]
        db.execute(
            "insert into app.classes (id, name) values (%s, %s)", (self.class_id, f"C {self.class_id}")
        )
        db.execute(
            "insert into app.staff (id, name, email, role) values (%s, 'T', %s, 'teacher')",
            (self.teacher, f"{self.teacher}@school.test"),
        )
        db.execute("insert into app.class_teachers values (%s, %s)", (self.class_id, self.teacher))
        for s in self.students:
            db.execute(
                "insert into app.students (id, class_id, name, email) values (%s, %s, 'S', %s)",
                (s, self.class_id, f"{s}@school.test"),
            )

    def mark_sql(self, period: int, status: str = "present", students: list[uuid.UUID] | None = None) -> str:
        """One statement that marks a period for these students (default: the whole class)."""
        rows = ", ".join(
            f"('{s}', '{self.class_id}', '{self.DAY}', {period}, 'Maths', '{status}', '{self.teacher}')"
            for s in (students or self.students)
        )
        return (
            "insert into app.attendance_records"
            " (student_id, class_id, date, period, subject, status, marked_by)"
            f" values {rows} on conflict (student_id, date, period) do update set status = excluded.status,"
            " marked_by = excluded.marked_by"
        )

    def mark(
        self,
        period: int,
        status: str = "present",
        students: list[uuid.UUID] | None = None,
        conn: psycopg.Connection[Any] | None = None,
    ) -> None:
        """Mark as the teacher, through the role and claims PostgREST would set."""
        c = conn or self.db
        with c.transaction():
            c.execute("set local role authenticated")
            claims = {"sub": str(self.teacher), "role": "authenticated", "aud": "authenticated"}
            c.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            c.execute(self.mark_sql(period, status, students))
