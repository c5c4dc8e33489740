"""Demo data: deterministic for a seed, and spread across the alert bands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import psycopg

from db.seed import school_days, seed
from db.tokens import mint

END = dt.date(2026, 11, 20)
SECRET = "a-development-secret-of-at-least-32-bytes"


def fingerprint(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = conn.execute(
        """
        select count(*),
               md5(string_agg(concat_ws(',', student_id, class_id, date, period, subject, status),
                              ';' order by student_id, date, period))
        from app.attendance_records
        """
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_same_seed_same_data(db: psycopg.Connection[Any], db_url: str) -> None:
    result = seed(db_url, classes=2, students_per_class=5, days=5, periods=2, rng_seed=7, end=END, quiet=True)
    first = fingerprint(db)
    assert first[0] == result.records == 2 * 5 * 5 * 2
    db.execute("truncate app.classes, app.staff cascade")
    seed(db_url, classes=2, students_per_class=5, days=5, periods=2, rng_seed=7, end=END, quiet=True)
    assert fingerprint(db) == first
    db.execute("truncate app.classes, app.staff cascade")
    seed(db_url, classes=2, students_per_class=5, days=5, periods=2, rng_seed=8, end=END, quiet=True)
    assert fingerprint(db) != first


def test_rates_spread_across_the_alert_bands(db: psycopg.Connection[Any], db_url: str) -> None:
    seed(db_url, classes=10, students_per_class=30, days=30, periods=6, rng_seed=42, end=END, quiet=True)
    row = db.execute(
        """
        with rates as (
            select student_id,
                   100.0 * count(*) filter (where status = 'present')
                         / nullif(count(*) filter (where status <> 'not_marked'), 0) as rate
            from app.attendance_records group by student_id
        )
        select count(*) filter (where rate <= 75),
               count(*) filter (where rate > 75 and rate < 80),
               count(*) filter (where rate >= 80 and rate < 85),
               count(*) filter (where rate >= 85),
               count(*)
        from rates
        """
    ).fetchone()
    assert row is not None
    mahroom, warning, tasdiq, fine, total = row
    assert total == 300
    assert mahroom > 0 and warning > 0 and tasdiq > 0
    assert fine > total / 2, "most students attend well"


def test_seeded_records_are_school_days_and_marked_by_a_teacher_of_the_class(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    seed(db_url, classes=3, students_per_class=4, days=10, periods=3, rng_seed=1, end=END, quiet=True)
    assert db.execute(
        "select count(*) from app.attendance_records where extract(isodow from date) > 5"
    ).fetchone() == (0,)
    assert db.execute(
        """
        select count(*) from app.attendance_records as r
        where not exists (select 1 from app.class_teachers as ct
                          where ct.class_id = r.class_id and ct.teacher_id = r.marked_by)
        """
    ).fetchone() == (0,)
    assert db.execute("select count(*) from app.staff where role = 'admin'").fetchone() == (1,)


def test_school_days_are_weekdays_before_the_end() -> None:
    days = school_days(10, END)
    assert len(days) == 10 and days == sorted(days)
    assert all(d.weekday() < 5 and d < END for d in days)


def test_token_has_the_supabase_claim_shape() -> None:
    token = mint(SECRET, "11111111-1111-4111-8111-111111111111", ttl_seconds=60, now=1_700_000_000)
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="authenticated", options={"verify_exp": False}
    )
    assert claims == {
        "sub": "11111111-1111-4111-8111-111111111111",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": 1_700_000_000,
        "exp": 1_700_000_060,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
