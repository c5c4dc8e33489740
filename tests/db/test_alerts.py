"""Threshold alerts, notifications and their deliveries, in the database (P33-P35, P37)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.db.helpers import School, call_as, wait_for

ALERTS = "select type from app.notifications where student_id = %s order by created_at, type"


def set_counts(
    db: psycopg.Connection[Any], school: School, student: uuid.UUID, present: int, absent: int
) -> None:
    """Give the student `present` present and `absent` absent periods in one statement, as the
    trigger path sees a teacher's marking (twelve periods a day from the school's DAY); records
    past the new total go in a second statement."""
    with db.transaction():
        db.execute(
            """
            insert into app.attendance_records
                (student_id, class_id, date, period, subject, status, marked_by)
            select %(s)s, %(c)s, %(day)s::date + (i / 12), i %% 12 + 1, 'Maths',
                case when i < %(p)s then 'present' else 'absent' end::app.attendance_status, %(t)s
            from generate_series(0, %(n)s - 1) as i
            on conflict (student_id, date, period) do update set status = excluded.status
            """,
            {
                "s": student,
                "c": school.class_id,
                "day": school.DAY,
                "p": present,
                "n": present + absent,
                "t": school.teacher,
            },
        )
        db.execute(
            "delete from app.attendance_records"
            " where student_id = %s and (date - %s) * 12 + period - 1 >= %s",
            (student, school.DAY, present + absent),
        )


def alerts(db: psycopg.Connection[Any], student: uuid.UUID) -> list[str]:
    return [r[0] for r in db.execute(ALERTS, (student,)).fetchall()]


def state(db: psycopg.Connection[Any], student: uuid.UUID) -> str | None:
    row = db.execute("select level from app.student_alert_state where student_id = %s", (student,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def queued(db: psycopg.Connection[Any], queue: str) -> list[dict[str, Any]]:
    return [r[0] for r in db.execute(f"select message from pgmq.q_{queue} order by msg_id").fetchall()]


@pytest.fixture
def school(db: psycopg.Connection[Any]) -> School:
    return School(db, students=2)


@pytest.mark.parametrize(
    ("present", "absent", "level", "kind"),
    [
        (15, 5, "mahroom", "mahroom_alert"),  # 75.00: mahroom is inclusive
        (16, 4, "tasdiq", "tasdiq_alert"),  # 80.00: not below 80, below 85
        (17, 3, None, None),  # 85.00: not below 85
        (31, 9, "warning", "attendance_warning"),  # 77.50
        (0, 9, None, None),  # one period below min_marked_periods (10)
        (0, 10, "mahroom", "mahroom_alert"),  # the tenth period
    ],
)
def test_exact_boundaries(
    db: psycopg.Connection[Any],
    school: School,
    present: int,
    absent: int,
    level: str | None,
    kind: str | None,
) -> None:
    s = school.students[0]
    set_counts(db, school, s, present, absent)
    assert state(db, s) == level
    assert alerts(db, s) == ([kind] if kind else [])


def test_mahroom_is_raised_in_the_marking_transaction_with_its_urgent_email(
    db: psycopg.Connection[Any], school: School
) -> None:
    """P34: the statement that takes a student to 75 % commits the alert, the in-app delivery,
    the outbox event and the urgent email job with it."""
    s = school.students[0]
    set_counts(db, school, s, 16, 4)  # 80 %: tasdiq
    school.mark(1, "absent", [s])  # DAY period 1 was present: 15 of 20
    assert alerts(db, s) == ["tasdiq_alert", "mahroom_alert"]
    mahroom = db.execute(
        "select id, severity, metadata from app.notifications"
        " where student_id = %s and type = 'mahroom_alert'",
        (s,),
    ).fetchone()
    assert mahroom is not None
    assert mahroom[1] == "error"
    assert mahroom[2]["rate"] == 75 and mahroom[2]["recovery"] == 1 and mahroom[2]["present"] == 15
    deliveries = dict(
        db.execute(
            "select channel, status from app.notification_deliveries where notification_id = %s",
            (mahroom[0],),
        ).fetchall()
    )
    assert deliveries == {"in_app": "sent", "email": "pending"}
    email_id = db.execute(
        "select id from app.notification_deliveries where notification_id = %s and channel = 'email'",
        (mahroom[0],),
    ).fetchone()
    assert email_id is not None
    assert {"task": "email", "deliveryId": email_id[0]} in queued(db, "jobs_urgent")
    assert all(m["deliveryId"] != email_id[0] for m in queued(db, "jobs_normal"))
    events = db.execute(
        "select payload from app.events where topic = 'notification' and student_id = %s order by id", (s,)
    ).fetchall()
    assert [e[0]["type"] for e in events] == ["tasdiq_alert", "mahroom_alert"]


def test_one_drop_across_levels_raises_the_deepest_and_rearms_on_the_way_up(
    db: psycopg.Connection[Any], school: School
) -> None:
    s = school.students[0]
    set_counts(db, school, s, 40, 0)
    set_counts(db, school, s, 28, 12)  # 70 %: straight to mahroom
    assert alerts(db, s) == ["mahroom_alert"]
    set_counts(db, school, s, 31, 9)  # 77.5 %: out of mahroom, still in warning: re-armed, silent
    assert state(db, s) == "warning"
    assert alerts(db, s) == ["mahroom_alert"]
    set_counts(db, school, s, 30, 10)  # 75 % again: mahroom was re-armed
    assert alerts(db, s) == ["mahroom_alert", "mahroom_alert"]
    set_counts(db, school, s, 30, 10)  # the same again: nothing new
    assert len(alerts(db, s)) == 2
    set_counts(db, school, s, 36, 4)  # 90 %: out of every level
    assert state(db, s) is None
    set_counts(db, school, s, 32, 8)  # 80 %: tasdiq
    assert alerts(db, s)[-1] == "tasdiq_alert" and len(alerts(db, s)) == 3


def test_deleted_and_truncated_records_rearm(db: psycopg.Connection[Any], school: School) -> None:
    s = school.students[0]
    set_counts(db, school, s, 0, 12)
    assert state(db, s) == "mahroom"
    db.execute("truncate app.attendance_records")
    assert state(db, s) is None
    set_counts(db, school, s, 0, 12)
    assert alerts(db, s) == ["mahroom_alert", "mahroom_alert"]


def test_the_backstop_catches_what_the_trigger_path_did_not_and_reruns_create_nothing(
    db: psycopg.Connection[Any], school: School
) -> None:
    """P33: a change that reaches the counts without the alert trigger (a DBA's threshold
    change here) is alerted by the hourly check; a second run creates nothing."""
    a, b = school.students
    set_counts(db, school, a, 31, 9)  # 77.5 %: warning
    set_counts(db, school, b, 33, 7)  # 82.5 %: tasdiq
    assert alerts(db, a) == ["attendance_warning"] and alerts(db, b) == ["tasdiq_alert"]
    db.execute("update app.attendance_thresholds set threshold = 78 where level = 'mahroom'")
    assert alerts(db, a) == ["attendance_warning"]
    assert db.execute("select app.check_alerts()").fetchone() == (1,)
    assert alerts(db, a) == ["attendance_warning", "mahroom_alert"]
    assert db.execute("select app.check_alerts()").fetchone() == (0,)
    assert db.execute("select count(*) from app.notifications").fetchone() == (3,)
    job = db.execute(
        "select jobname, schedule from cron.job where command = 'select app.check_alerts()'"
    ).fetchone()
    assert job == ("alerts-backstop", "7 * * * *")


def test_backstop_runs_never_overlap(db: psycopg.Connection[Any], db_url: str) -> None:
    with psycopg.connect(db_url) as other:
        other.execute("select pg_advisory_xact_lock(7245120394)")
        assert db.execute("select app.check_alerts()").fetchone() == (None,)
        other.rollback()
    assert db.execute("select app.check_alerts()").fetchone() == (0,)


def test_two_callers_for_one_student_raise_one_alert(
    db: psycopg.Connection[Any], db_url: str, school: School
) -> None:
    """The backstop and another caller meet on the student's state row: the second waits for the
    first to commit, then reads the state it left and raises nothing (forced with pg_locks)."""
    s = school.students[0]
    set_counts(db, school, s, 31, 9)  # warning
    db.execute("update app.attendance_thresholds set threshold = 78 where level = 'mahroom'")
    first = psycopg.connect(db_url)
    second = psycopg.connect(db_url, autocommit=True)
    try:
        assert first.execute("select app.apply_alerts(array[%s]::uuid[])", (s,)).fetchone() == (1,)
        result: list[Any] = []
        waiter = threading.Thread(
            target=lambda: result.append(
                second.execute("select app.apply_alerts(array[%s]::uuid[])", (s,)).fetchone()
            )
        )
        waiter.start()
        wait_for(
            lambda: (
                db.execute(
                    "select count(*) from pg_locks where pid = %s and not granted", (second.info.backend_pid,)
                ).fetchone()
                == (1,)
            ),
            10,
            "the second caller to wait on the state row",
        )
        first.commit()
        waiter.join(10)
        assert result == [(0,)]
    finally:
        first.close()
        second.close()
    assert alerts(db, s) == ["attendance_warning", "mahroom_alert"]


def test_a_writer_in_flight_is_not_alerted_twice_by_the_backstop(
    db: psycopg.Connection[Any], db_url: str, school: School
) -> None:
    """The backstop holds a student's state row while a teacher's mark is in flight: the mark's
    alert waits for it, then raises exactly once."""
    s = school.students[0]
    set_counts(db, school, s, 16, 4)  # tasdiq
    backstop = psycopg.connect(db_url)
    marker = psycopg.connect(db_url, autocommit=True)
    try:
        backstop.execute("select 1 from app.student_alert_state where student_id = %s for update", (s,))
        waiter = threading.Thread(target=lambda: school.mark(1, "absent", [s], conn=marker))
        waiter.start()
        wait_for(
            lambda: (
                db.execute(
                    "select count(*) from pg_locks where pid = %s and not granted", (marker.info.backend_pid,)
                ).fetchone()
                == (1,)
            ),
            10,
            "the mark to wait on the state row",
        )
        # The backstop reads the counts the mark has not committed: nothing is due yet.
        assert backstop.execute("select app.apply_alerts(array[%s]::uuid[])", (s,)).fetchone() == (0,)
        backstop.commit()
        waiter.join(10)
    finally:
        backstop.close()
        marker.close()
    assert alerts(db, s) == ["tasdiq_alert", "mahroom_alert"]


def reference_recovery(present: int, marked: int, threshold: Fraction, inclusive: bool) -> int | None:
    """The smallest n with (present + n) / (marked + n) out of the level, by counting."""

    def inside(p: int, m: int) -> bool:
        return m > 0 and (
            Fraction(100 * p, m) < threshold or (inclusive and Fraction(100 * p, m) == threshold)
        )

    if not inside(present, marked):
        return 0
    if threshold >= 100:
        return None
    n = 0
    while inside(present + n, marked + n):
        n += 1
    return n


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    marked=st.integers(min_value=0, max_value=400),
    present_share=st.fractions(min_value=0, max_value=1),
    threshold=st.decimals(min_value=0, max_value=100, places=2),
    inclusive=st.booleans(),
)
def test_recovery_matches_counting(
    db: psycopg.Connection[Any], marked: int, present_share: Fraction, threshold: Any, inclusive: bool
) -> None:
    present = int(present_share * marked)
    got = db.execute(
        "select app.recovery_periods(%s, %s, %s, %s)", (present, marked, threshold, inclusive)
    ).fetchone()
    assert got == (reference_recovery(present, marked, Fraction(threshold), inclusive),)


def test_dashboard_carries_recovery_per_level(db: psycopg.Connection[Any], school: School) -> None:
    s = school.students[0]
    set_counts(db, school, s, 14, 6)  # 70 %
    dashboard = call_as(db, s, "select api.student_dashboard()")
    assert dashboard["recovery"] == {
        "mahroom": reference_recovery(14, 20, Fraction(75), True),
        "warning": reference_recovery(14, 20, Fraction(80), False),
        "tasdiq": reference_recovery(14, 20, Fraction(85), False),
    }
    assert dashboard["recovery"]["mahroom"] == 5 and dashboard["alertLevel"] == "mahroom"


def mark_day(
    db: psycopg.Connection[Any], school: School, student: uuid.UUID, day: int, statuses: list[str]
) -> None:
    with db.transaction():
        for period, status in enumerate(statuses, start=1):
            db.execute(
                "insert into app.attendance_records (student_id, class_id, date, period, subject, status)"
                " values (%s, %s, %s, %s, 'Maths', %s)",
                (student, school.class_id, school.DAY + dt.timedelta(days=day), period, status),
            )


def streaks(db: psycopg.Connection[Any], student: uuid.UUID) -> int:
    return alerts(db, student).count("consecutive_absence")


def test_consecutive_absence_fires_once_per_streak(db: psycopg.Connection[Any], school: School) -> None:
    s = school.students[0]
    mark_day(db, school, s, 0, ["present"] * 4)
    mark_day(db, school, s, 1, ["absent", "absent", "not_marked"])
    mark_day(db, school, s, 2, ["sick", "sick"])  # sick is not absent: no streak through it
    mark_day(db, school, s, 3, ["absent"] * 4)
    mark_day(db, school, s, 4, ["absent"] * 4)
    assert streaks(db, s) == 0
    mark_day(db, school, s, 5, ["not_marked"] * 4)  # no marked period: not a school day for them
    mark_day(db, school, s, 6, ["absent"] * 3)
    assert streaks(db, s) == 1
    notification = db.execute(
        "select metadata, message from app.notifications where type = 'consecutive_absence'"
    ).fetchone()
    assert notification is not None
    assert (
        notification[0]["days"] == 3 and "2026-11-08" in notification[1] and "2026-11-05" in notification[1]
    )
    mark_day(db, school, s, 7, ["absent"] * 3)  # the same streak goes on
    assert streaks(db, s) == 1
    mark_day(db, school, s, 8, ["absent", "present"])  # broken: re-armed
    for day in (9, 10):
        mark_day(db, school, s, day, ["absent"] * 2)
    assert streaks(db, s) == 1
    mark_day(db, school, s, 11, ["absent"] * 2)
    assert streaks(db, s) == 2


def test_consecutive_absence_days_are_configurable(db: psycopg.Connection[Any], school: School) -> None:
    s = school.students[0]
    db.execute("update app.alert_settings set consecutive_absence_days = 2")
    mark_day(db, school, s, 0, ["absent"])
    mark_day(db, school, s, 1, ["absent"])
    assert streaks(db, s) == 1
    with pytest.raises(psycopg.errors.CheckViolation, match="alert_settings_absence_days_between_1_and_30"):
        db.execute("update app.alert_settings set consecutive_absence_days = 0")


KINDS = {
    "mahroom_alert": "attendance_alerts",
    "attendance_warning": "attendance_alerts",
    "consecutive_absence": "attendance_alerts",
    "file_rejected": "file_updates",
    "system_announcement": "system_announcements",
}
QUEUES = {"mahroom_alert": "jobs_urgent", "system_announcement": "jobs_low"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flags=st.fixed_dictionaries(
        {
            k: st.booleans()
            for k in (
                "email_enabled",
                "in_app_enabled",
                "attendance_alerts",
                "file_updates",
                "system_announcements",
            )
        }
    ),
    kind=st.sampled_from(sorted(KINDS)),
)
def test_deliveries_follow_the_preferences(
    db: psycopg.Connection[Any], school: School, flags: dict[str, bool], kind: str
) -> None:
    """P37: for any preferences and any kind, a notification is delivered in the app and by
    email exactly where the preferences allow; the row itself always exists."""
    s = school.students[1]
    db.execute(
        "update app.notification_preferences set "
        + ", ".join(f"{k} = %({k})s" for k in flags)
        + " where student_id = %(s)s",
        {**flags, "s": s},
    )
    before = {q: len(queued(db, q)) for q in ("jobs_urgent", "jobs_normal", "jobs_low")}
    (nid,) = db.execute(
        "select * from app.create_notifications("
        "array[row(%s, %s, 'T', 'M', 'info', null, null)::app.new_notification])",
        (s, kind),
    ).fetchone() or (None,)
    wanted = flags[KINDS[kind]]
    channels = {
        r[0]
        for r in db.execute(
            "select channel from app.notification_deliveries where notification_id = %s", (nid,)
        ).fetchall()
    }
    expected = {
        c
        for c, on in (("in_app", flags["in_app_enabled"]), ("email", flags["email_enabled"]))
        if on and wanted
    }
    assert channels == expected
    shown = call_as(db, s, "select count(*) from app.notifications where id = %s", (nid,))
    assert shown == (1 if "in_app" in expected else 0)
    after = {q: len(queued(db, q)) for q in before}
    queue = QUEUES.get(kind, "jobs_normal")
    assert after == {q: before[q] + (1 if q == queue and "email" in expected else 0) for q in before}
    event = db.execute(
        "select count(*) from app.events where topic = 'notification' and payload->>'id' = %s", (str(nid),)
    ).fetchone()
    assert event == (1 if "in_app" in expected else 0,)


def test_every_student_has_preferences_and_state(db: psycopg.Connection[Any], school: School) -> None:
    new = uuid.uuid4()
    db.execute(
        "insert into app.students (id, class_id, name, email) values (%s, %s, 'N', %s)",
        (new, school.class_id, f"{new}@school.test"),
    )
    prefs = call_as(db, new, "select api.notification_preferences()")
    assert {k: v for k, v in prefs.items() if k != "updatedAt"} == {
        "emailEnabled": True,
        "inAppEnabled": True,
        "attendanceAlerts": True,
        "fileUpdates": True,
        "systemAnnouncements": True,
    }
    assert state(db, new) is None


def test_thresholds_edited_into_nonsense_are_refused(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="attendance_thresholds_levels_nested"):
        db.execute("update app.attendance_thresholds set threshold = 70 where level = 'tasdiq'")
    with pytest.raises(psycopg.errors.CheckViolation, match="attendance_thresholds_rate_between_0_and_100"):
        db.execute("update app.attendance_thresholds set threshold = 100.5 where level = 'tasdiq'")
    with pytest.raises(psycopg.errors.CheckViolation, match="attendance_thresholds_three_levels"):
        db.execute("delete from app.attendance_thresholds where level = 'warning'")
    # All three moved in one transaction: checked at commit, and accepted.
    with db.transaction():
        db.execute("update app.attendance_thresholds set threshold = 60 where level = 'mahroom'")
        db.execute("update app.attendance_thresholds set threshold = 65 where level = 'warning'")
        db.execute("update app.attendance_thresholds set threshold = 70 where level = 'tasdiq'")
    assert db.execute("select count(*) from app.attendance_thresholds").fetchone() == (3,)


def notify(db: psycopg.Connection[Any], student: uuid.UUID, n: int) -> list[uuid.UUID]:
    rows = db.execute(
        "select * from app.create_notifications(array("
        "select row(%s, 'system_announcement', 'T' || i, 'M', 'info', null, null)::app.new_notification"
        " from generate_series(1, %s) as i))",
        (student, n),
    ).fetchall()
    return [r[0] for r in rows]


def test_pages_of_notifications_with_unread_and_a_cursor(db: psycopg.Connection[Any], school: School) -> None:
    a, b = school.students
    ids = notify(db, a, 5) + notify(db, a, 2)  # two transactions: two created_at values
    notify(db, b, 3)
    seen: list[str] = []
    cursor = None
    while True:
        page = call_as(db, a, "select api.notifications(false, 3, %s)", (cursor,))
        seen += [n["id"] for n in page["notifications"]]
        assert page["unreadCount"] == 7
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(i) for i in ids) and len(seen) == 7
    assert seen[:2] == sorted(seen[:2], reverse=True) and set(seen[:2]) == {str(i) for i in ids[5:]}

    other = notify(db, b, 1)[0]
    result = call_as(
        db, a, "select api.mark_notifications_read(%s::uuid[])", ([ids[0], ids[1], other, uuid.uuid4()],)
    )
    assert result == {"updated": 2, "unreadCount": 5}
    assert call_as(db, b, "select api.notifications(true, 100)")["unreadCount"] == 4
    unread = call_as(db, a, "select api.notifications(true, 100)")
    assert {n["id"] for n in unread["notifications"]} == {str(i) for i in ids[2:]}
    assert call_as(db, a, "select api.mark_notifications_read(every => true)") == {
        "updated": 5,
        "unreadCount": 0,
    }
    events = db.execute(
        "select count(*) from app.events where topic = 'inbox_changed' and student_id = %s", (a,)
    ).fetchone()
    assert events == (2,)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="cursor"):
        call_as(db, a, "select api.notifications(false, 3, 'nope')")


def test_students_read_only_their_own_notifications(db: psycopg.Connection[Any], school: School) -> None:
    a, b = school.students
    notify(db, a, 2)
    assert call_as(db, b, "select count(*) from app.notifications") == 0
    assert call_as(db, a, "select count(*) from app.notifications") == 2
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, a, "select count(*) from app.notification_deliveries")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, a, "update app.notifications set read = true, read_at = now()")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, school.teacher, "select api.notifications()")


def test_preferences_refuse_unknown_fields_and_wrong_types_and_change_nothing(
    db: psycopg.Connection[Any], school: School
) -> None:
    s = school.students[0]
    before = call_as(db, s, "select api.notification_preferences()")
    for bad, field in (
        ({"emailEnabled": False, "sms": True}, "sms"),
        ({"inAppEnabled": "no"}, "inAppEnabled"),
    ):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=field):
            call_as(db, s, "select api.update_notification_preferences(%s::jsonb)", (json.dumps(bad),))
    assert call_as(db, s, "select api.notification_preferences()") == before
    after = call_as(db, s, "select api.update_notification_preferences('{\"emailEnabled\": false}')")
    assert after["emailEnabled"] is False and after["inAppEnabled"] is True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.decimals(min_value=0, max_value=100, places=2), min_size=3, max_size=3).map(sorted),
    inclusive=st.lists(st.booleans(), min_size=3, max_size=3),
    minimums=st.lists(st.integers(0, 12), min_size=3, max_size=3),
    marked=st.integers(0, 60),
    present_share=st.fractions(min_value=0, max_value=1),
)
def test_the_level_is_the_deepest_level_in_level_admits(
    db: psycopg.Connection[Any],
    school: School,
    cuts: list[Any],
    inclusive: list[bool],
    minimums: list[int],
    marked: int,
    present_share: Fraction,
) -> None:
    """app.alert_standing() writes app.in_level() out for speed: for any nested thresholds, flags,
    minimums and counts, its level is the deepest level whose minimum is met and whose
    threshold in_level() says the rate is inside."""
    s = school.students[0]
    present = int(present_share * marked)
    levels = ("mahroom", "warning", "tasdiq")  # deepest first, lowest threshold first
    with db.transaction(force_rollback=True):
        for level, cut, inc, low in zip(levels, cuts, inclusive, minimums, strict=True):
            db.execute(
                "update app.attendance_thresholds set threshold = %s, inclusive = %s, min_marked_periods = %s"
                " where level = %s",
                (cut, inc, low, level),
            )
        db.execute(
            "update app.student_attendance_summary set present = %s, absent = %s, marked = %s"
            " where student_id = %s",
            (present, marked - present, marked, s),
        )
        got = db.execute("select level from app.alert_standing(array[%s]::uuid[])", (s,)).fetchone()
        expected = None
        for level, cut, inc, low in zip(levels, cuts, inclusive, minimums, strict=True):
            inside = db.execute("select app.in_level(%s, %s, %s, %s)", (present, marked, cut, inc)).fetchone()
            if marked >= low and inside == (True,):
                expected = level
                break
        assert got == (expected,), (cuts, inclusive, minimums, present, marked)
