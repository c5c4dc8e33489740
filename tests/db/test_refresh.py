"""Refreshing the analytics views: what triggers a refresh, what it skips, and why a change made
while it runs is never lost."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from db.migrate import migrate
from db.seed import seed
from db.tempcluster import temp_cluster
from tests.db.helpers import wait_for

REFRESH_LOCK = 7_245_120_392


def state(conn: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(
        "select view_name, last_started_at, last_finished_at from analytics.refresh_state"
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def pending(conn: psycopg.Connection[Any]) -> int:
    """Writing transactions whose changes the views do not hold yet."""
    row = conn.execute("select count(*) from analytics.pending_changes").fetchone()
    assert row is not None
    return int(row[0])


def view_rate(conn: psycopg.Connection[Any], student: uuid.UUID) -> Decimal | None:
    row = conn.execute(
        "select attendance_rate from analytics.student_rankings where student_id = %s", (student,)
    ).fetchone()
    return None if row is None else Decimal(row[0])


@pytest.fixture
def school(db: psycopg.Connection[Any], db_url: str) -> uuid.UUID:
    """A small seeded school with the views refreshed; returns one student's id."""
    result = seed(db_url, classes=2, students_per_class=4, days=5, periods=2, quiet=True)
    db.execute("select analytics.refresh()")
    return result.demo_student_id


def test_a_change_reaches_the_views_through_refresh_if_dirty(
    db: psycopg.Connection[Any], school: uuid.UUID
) -> None:
    assert pending(db) == 0, "a refresh leaves the views clean"
    db.execute("update app.attendance_records set status = 'present' where student_id = %s", (school,))
    assert pending(db) == 1, "the change marked the views dirty"
    assert view_rate(db, school) != Decimal("100.00"), "the view still holds the old figure"

    assert db.execute("select analytics.refresh_if_dirty()").fetchone() == (True,)
    assert view_rate(db, school) == Decimal("100.00")
    assert pending(db) == 0
    after = state(db)
    assert all(s[1] is not None and s[1] >= s[0] for s in after.values()), "finished after it started"


def test_refresh_if_dirty_does_nothing_when_nothing_changed(
    db: psycopg.Connection[Any], school: uuid.UUID
) -> None:
    before = state(db)
    assert db.execute("select analytics.refresh_if_dirty()").fetchone() == (False,)
    assert state(db) == before
    db.execute("update app.attendance_records set marked_at = now() where student_id = %s", (school,))
    assert pending(db) == 0, "re-marking with the same status changes no figure"
    assert db.execute("select analytics.refresh_if_dirty()").fetchone() == (False,)
    assert state(db) == before


def test_refreshes_never_overlap(db: psycopg.Connection[Any], db_url: str, school: uuid.UUID) -> None:
    before = state(db)
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (REFRESH_LOCK,))
        notices: list[str] = []
        db.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        assert db.execute("select analytics.refresh()").fetchone() == (False,)
        assert notices == ["analytics refresh skipped: another refresh is running"]
        assert state(db) == before
        other.execute("select pg_advisory_unlock(%s)", (REFRESH_LOCK,))
    assert db.execute("select analytics.refresh()").fetchone() == (True,)
    assert state(db)["class_statistics"][0] > before["class_statistics"][0]


def test_a_change_committed_while_a_refresh_runs_keeps_the_views_dirty(
    db: psycopg.Connection[Any], db_url: str, school: uuid.UUID
) -> None:
    """A writer in flight when the refresh takes its snapshot is not in the refreshed views; the
    refresh neither waits for it nor forgets it, and the next refresh_if_dirty brings it in."""
    with psycopg.connect(db_url) as writer:
        writer.execute(
            "update app.attendance_records set status = 'present' where student_id = %s", (school,)
        )
        writer_xid = writer.execute("select pg_current_xact_id()").fetchone()
        # Were the refresh to wait for the writer, it would fail here rather than hang.
        db.execute("set statement_timeout = '10s'")
        assert db.execute("select analytics.refresh()").fetchone() == (True,), "the writer held nothing up"
        writer.commit()
    assert view_rate(db, school) != Decimal("100.00"), "the refresh could not see the writer's change"
    assert db.execute("select xid from analytics.pending_changes").fetchall() == [writer_xid]
    assert db.execute("select analytics.refresh_if_dirty()").fetchone() == (True,)
    assert view_rate(db, school) == Decimal("100.00")
    assert pending(db) == 0


def test_a_refresh_running_while_a_change_commits_keeps_the_views_dirty(
    db: psycopg.Connection[Any], db_url: str, school: uuid.UUID
) -> None:
    """The other order: the refresh took its snapshot, then a writer commits before the refresh
    does. The refresh transaction is held open between the two by the test."""
    with psycopg.connect(db_url) as refresher, psycopg.connect(db_url, autocommit=True) as writer:
        assert refresher.execute("select analytics.refresh()").fetchone() == (True,)
        writer.execute(
            "update app.attendance_records set status = 'present' where student_id = %s", (school,)
        )
        refresher.commit()
    assert view_rate(db, school) != Decimal("100.00")
    assert pending(db) == 1, "the writer's change waits for the next refresh"
    db.execute("select analytics.refresh_if_dirty()")
    assert view_rate(db, school) == Decimal("100.00")


def test_concurrent_markings_of_one_class_stay_exact(db: psycopg.Connection[Any], db_url: str) -> None:
    result = seed(db_url, classes=1, students_per_class=30, days=1, periods=1, quiet=True)
    roster = [r[0] for r in db.execute("select id from app.students").fetchall()]
    class_id = db.execute("select id from app.classes").fetchone()[0]  # type: ignore[index]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def mark(day_offset: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            try:
                for period in range(1, 13):
                    with conn.transaction():
                        conn.execute("set local role authenticated")
                        conn.execute(
                            "select set_config('request.jwt.claims', %s, true)",
                            (f'{{"sub": "{result.demo_teacher_id}", "role": "authenticated"}}',),
                        )
                        marks = [
                            {"studentId": str(s), "status": "absent" if period % 3 else "present"}
                            for s in roster
                        ]
                        conn.execute(
                            "select api.mark_attendance(%s, current_date + %s, %s, 'Maths', %s)",
                            (class_id, day_offset, period, psycopg.types.json.Jsonb(marks)),
                        )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=mark, args=(offset,)) for offset in (10, 11)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    drift = db.execute(
        """
        select count(*) from app.student_attendance_summary as sm
        join (select student_id, count(*) filter (where status = 'present') as p, count(*) as n
              from app.attendance_records group by student_id) as r using (student_id)
        where (sm.present, sm.marked + sm.not_marked) <> (r.p, r.n)
        """
    ).fetchone()
    assert drift == (0,)


@pytest.mark.slow
def test_pg_cron_runs_the_scheduled_refresh() -> None:
    """In a cluster whose cron.database_name is the migrated database, the per-minute job fills the views."""
    with temp_cluster() as pg:
        migrate(pg.url(), log=lambda _: None)
        seed(pg.url(), classes=2, students_per_class=3, days=2, periods=2, quiet=True)
        with psycopg.connect(pg.url(), autocommit=True) as conn:

            def populated() -> bool:
                row = conn.execute(
                    "select relispopulated from pg_class where oid = 'analytics.student_rankings'::regclass"
                ).fetchone()
                return bool(row and row[0])

            wait_for(populated, 150, "pg_cron's per-minute job to refresh the views")

            def runs() -> set[str]:
                rows = conn.execute(
                    "select d.status from cron.job_run_details as d join cron.job as j using (jobid)"
                    " where j.jobname in ('analytics-refresh-if-dirty', 'analytics-refresh')"
                ).fetchall()
                return {status for (status,) in rows}

            # The run is recorded as succeeded just after its transaction commits.
            wait_for(lambda: "succeeded" in runs(), 10, "the run recorded as succeeded")
            assert "failed" not in runs()
            assert conn.execute("select count(*) from analytics.student_rankings").fetchone() == (6,)
