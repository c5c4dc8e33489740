"""The events outbox: what a write produces, and the order in which readers see it, with the
interleavings that lose events elsewhere forced here with real concurrent transactions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.db.helpers import School, call_as

EXPIRED = (
    "select app.event_position_expired((p).horizon, (p).id) from (select app.parse_event_position(%s) as p) s"
)


class Reader:
    """What the edge's bridge does: read after its cursor, advance it to the last event read."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.cursor: str | None = None
        self.seen: list[tuple[str, str, dict[str, Any]]] = []

    def read(self) -> list[tuple[str, str, dict[str, Any]]]:
        got: list[tuple[str, str, dict[str, Any]]] = []
        while True:
            rows = self.conn.execute(
                "select event_position, topic, payload from app.read_events(%s, 3)", (self.cursor,)
            ).fetchall()
            if not rows:
                break
            got.extend((r[0], r[1], r[2]) for r in rows)
            self.cursor = rows[-1][0]
        self.seen.extend(got)
        return got

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def school(db: psycopg.Connection[Any]) -> School:
    return School(db)


@pytest.fixture
def reader(db_url: str) -> Iterator[Reader]:
    r = Reader(db_url)
    yield r
    r.close()


@contextmanager
def session(url: str) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(url)
    try:
        yield conn
    finally:
        conn.close()


def xid_of(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
    assert row is not None
    return int(row[0])


def periods(events: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    return [e[2]["period"] for e in events]


def test_a_class_marked_in_one_statement_writes_its_events_in_one_insert(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    db.execute(school.mark_sql(1))
    events = reader.read()
    assert [e[1] for e in events] == ["attendance_update"] * len(school.students)
    assert {e[2]["studentId"] for e in events} == {str(s) for s in school.students}
    assert all(e[2]["change"] == "marked" and e[2]["status"] == "present" for e in events)
    xids = db.execute("select count(distinct (xid, horizon)) from app.events").fetchone()
    assert xids == (1,), "one statement: one transaction and one horizon for all its events"
    positions = [e[0] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)

    db.execute(school.mark_sql(1, "absent", school.students[:1]))
    (changed,) = reader.read()
    assert changed[2]["change"] == "re-marked"
    assert (changed[2]["status"], changed[2]["previousStatus"]) == ("absent", "present")
    assert changed[0] > positions[-1]

    db.execute("delete from app.attendance_records where student_id = %s", (school.students[1],))
    (deleted,) = reader.read()
    assert (deleted[2]["change"], deleted[2]["status"], deleted[2]["previousStatus"]) == (
        "deleted",
        None,
        "present",
    )


def test_an_update_that_changes_nothing_writes_no_event(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    db.execute(school.mark_sql(1))
    reader.read()
    db.execute("update app.attendance_records set status = status")
    assert reader.read() == []


def test_one_notification_per_transaction(db_url: str, school: School) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener, session(db_url) as writer:
        listener.execute("listen app_events")
        for period in (1, 2, 3):
            writer.execute(school.mark_sql(period))
        writer.commit()
        writer.execute(school.mark_sql(4))
        writer.commit()
        got = list(listener.notifies(timeout=0.5))
    assert [n.channel for n in got] == ["app_events", "app_events"], "three statements, one transaction: one"


def test_events_committed_out_of_id_order_are_all_delivered(
    db_url: str, school: School, reader: Reader
) -> None:
    """The first writer takes the smaller ids and commits last: a reader keeping "the largest id
    seen" would skip its events; this one delivers both transactions."""
    # Different students: two writers of the same student wait for each other's summary row.
    half = len(school.students) // 2
    with session(db_url) as first, session(db_url) as second:
        first.execute(school.mark_sql(1, students=school.students[:half]))
        second.execute(school.mark_sql(2, students=school.students[half:]))
        ids: dict[str, Any] = {
            name: conn.execute("select min(id), max(id) from app.events").fetchone()
            for name, conn in (("first", first), ("second", second))
        }
        assert ids["first"][1] < ids["second"][0], "the first writer holds the smaller ids"
        second.commit()

        naive_max = reader.conn.execute("select max(id) from app.events").fetchone()
        assert reader.read() == [], "nothing is delivered while a smaller writer is in flight"
        first.commit()

    # "The largest id seen" after the second commit now skips every event of the first writer.
    assert naive_max is not None
    skipped = reader.conn.execute("select count(*) from app.events where id <= %s", naive_max).fetchone()
    assert skipped is not None and skipped[0] == len(school.students)
    delivered = reader.read()
    assert periods(delivered) == [1] * half + [2] * (len(school.students) - half)


def test_a_long_transaction_that_writes_no_events_does_not_hold_readers_back(
    db_url: str, db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    with session(db_url) as idle:
        idle.execute("insert into app.classes (id, name) values (gen_random_uuid(), 'Open transaction')")
        assert xid_of(idle) > 0
        db.execute(school.mark_sql(1))
        assert len(reader.read()) == len(school.students)
        idle.rollback()


def test_a_writer_whose_id_is_older_than_the_readers_horizon_is_not_skipped(
    db_url: str, db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    """The late writer had its transaction id before the reader read past newer events; it
    writes its events only afterwards. Its events still come after the reader's cursor."""
    with session(db_url) as late:
        late.execute("insert into app.classes (id, name) values (gen_random_uuid(), 'Late writer')")
        late_xid = xid_of(late)
        db.execute(school.mark_sql(1))
        assert len(reader.read()) == len(school.students)
        committed_xid = db.execute("select max(xid)::text::bigint from app.events").fetchone()
        assert committed_xid is not None and late_xid < committed_xid[0]

        late.execute(school.mark_sql(2))
        assert reader.read() == []
        late.commit()
    assert periods(reader.read()) == [2] * len(school.students)


def test_a_write_that_waited_for_another_commit_is_delivered_after_it(
    db_url: str, school: School, reader: Reader
) -> None:
    """The older transaction changes the same record after the younger one committed it: the
    reader delivers the younger first, so the record's last event is its final state."""
    student = school.students[:1]
    with session(db_url) as older, session(db_url) as younger:
        older.execute("insert into app.classes (id, name) values (gen_random_uuid(), 'Older')")
        younger.execute(school.mark_sql(1, "absent", student))
        assert xid_of(older) < xid_of(younger)
        younger.commit()
        older.execute(school.mark_sql(1, "sick", student))
        older.commit()
    statuses = [e[2]["status"] for e in reader.read()]
    assert statuses == ["absent", "sick"]


def test_a_rolled_back_writer_leaves_nothing_and_holds_nothing(
    db_url: str, db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    with session(db_url) as doomed:
        doomed.execute(school.mark_sql(1, students=school.students[:1]))
        db.execute(school.mark_sql(2, students=school.students[1:]))
        assert reader.read() == []
        doomed.rollback()
    assert periods(reader.read()) == [2] * (len(school.students) - 1)


# Each step: which transaction (0-2) does what. "write" marks a period, "end" commits or rolls
# back, "read" lets the reader catch up.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 2)),
        st.tuples(st.just("xid"), st.integers(0, 2)),
        st.tuples(st.just("commit"), st.integers(0, 2)),
        st.tuples(st.just("rollback"), st.integers(0, 2)),
        st.tuples(st.just("read"), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_for_any_interleaving_every_committed_event_is_read_exactly_once(
    db_url: str, db: psycopg.Connection[Any], steps: list[tuple[str, int]]
) -> None:
    """Three writers begin, take transaction ids, write, commit and roll back in any order while
    a reader reads after its cursor: it reads each committed event once and nothing else. Each
    writer marks students of its own (writers of one student wait for each other)."""
    school = School(db, students=6)
    reader = Reader(db_url)
    # Start after anything earlier examples left behind.
    reader.cursor = reader.conn.execute("select app.event_head()").fetchone()[0]  # type: ignore[index]
    writers = [psycopg.connect(db_url) for _ in range(3)]
    period = iter(range(1, 13))
    committed: set[int] = set()
    open_writes: dict[int, list[int]] = {0: [], 1: [], 2: []}
    try:
        for action, who in steps:
            conn = writers[who]
            if action == "write":
                p = next(period, None)
                if p is None:
                    continue
                conn.execute(school.mark_sql(p, students=school.students[2 * who : 2 * who + 2]))
                open_writes[who].append(p)
            elif action == "xid":
                conn.execute("select pg_current_xact_id()")
            elif action == "commit":
                conn.commit()
                committed.update(open_writes[who])
                open_writes[who] = []
            elif action == "rollback":
                conn.rollback()
                open_writes[who] = []
            else:
                reader.read()
        for who, conn in enumerate(writers):
            conn.commit()
            committed.update(open_writes[who])
        reader.read()
    finally:
        for conn in writers:
            conn.close()
        reader.close()
    positions = [e[0] for e in reader.seen]
    assert positions == sorted(positions), "read in position order"
    assert len(positions) == len(set(positions)), "no event twice"
    assert sorted(periods(reader.seen)) == sorted(p for p in committed for _ in range(2))


def test_truncate_tells_every_student_to_reset(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    db.execute(school.mark_sql(1))
    reader.read()
    db.execute("truncate app.attendance_records")
    events = reader.read()
    mine = [e for e in events if e[2].get("reason") == "attendance_truncated"]
    assert {e[1] for e in mine} == {"reset"}
    row = db.execute(
        "select count(*) from app.events where topic = 'reset' and student_id = any(%s)", (school.students,)
    ).fetchone()
    assert row == (len(school.students),)


def test_positions_parse_back_and_refuse_what_is_not_one(db: psycopg.Connection[Any]) -> None:
    row = db.execute("select app.parse_event_position(app.event_position('123456'::xid8, 789))").fetchone()
    assert row is not None
    assert db.execute(
        "select (p).horizon::text, (p).id"
        " from (select app.parse_event_position(app.event_position('123456'::xid8, 789)) as p) s"
    ).fetchone() == ("123456", 789)
    for bad in ("", "zz", "0" * 31, "f" + "0" * 31, "0" * 16 + "8" + "0" * 15, "0" * 33):
        parsed = db.execute("select (app.parse_event_position(%s)).horizon", (bad,)).fetchone()
        assert parsed == (None,), bad
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        db.execute("select * from app.read_events('nonsense')")


def test_retention_drops_whole_days_and_remembers_the_newest_position_dropped(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    db.execute(school.mark_sql(1))
    first = reader.read()
    db.execute("update app.events set at = now() - interval '5 days'")
    before = db.execute("select count(*) from app.events").fetchone()
    assert before is not None and before[0] == len(school.students)
    # Rows of days with no partition wait in the default partition until one is created.
    created = db.execute(
        "select app.create_event_partitions(0, (now() - interval '5 days')::date)"
    ).fetchall()
    assert len(created) == 1
    dropped = [r[0] for r in db.execute("select app.drop_expired_event_partitions()").fetchall()]
    assert created[0][0] in dropped
    assert db.execute("select count(*) from app.events").fetchone() == (0,)
    last = first[-1][0]
    expired = db.execute(
        EXPIRED,
        (first[0][0],),
    ).fetchone()
    assert expired == (True,), "a position before the newest dropped one has lost events"
    current = db.execute(
        EXPIRED,
        (last,),
    ).fetchone()
    assert current == (False,), "nothing after the newest dropped position is gone"


def test_students_cannot_read_the_outbox(db: psycopg.Connection[Any], school: School) -> None:
    db.execute(school.mark_sql(1))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, school.students[0], "select count(*) from app.events")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, school.students[0], "select * from app.read_events(null)")


def events_as(
    db: psycopg.Connection[Any], student: uuid.UUID, after: str | None, **kw: Any
) -> dict[str, Any]:
    args = ", ".join(["%s"] + [f"{k} => %s" for k in kw])
    result: dict[str, Any] = call_as(db, student, f"select api.events({args})", (after, *kw.values()))
    return result


def test_a_student_reads_their_own_changes_and_only_the_fact_that_their_class_changed(
    db: psycopg.Connection[Any], school: School
) -> None:
    me, classmate = school.students[0], school.students[1]
    start = events_as(db, me, None)
    assert start["events"] == [] and not start["reset"]
    db.execute(school.mark_sql(1, "absent", [me]))
    db.execute(school.mark_sql(2, "sick", [classmate]))
    page = events_as(db, me, start["nextAfter"])
    kinds = [e["event"] for e in page["events"]]
    assert kinds == ["attendance_update", "metrics_update"]
    own, metrics = page["events"]
    assert own["data"]["status"] == "absent" and own["data"]["studentId"] == str(me)
    assert str(classmate) not in str(page), "nothing of a classmate's record reaches another student"
    assert own["id"] < metrics["id"] <= page["nextAfter"], "the metrics carry the page's last position"
    assert metrics["data"]["studentId"] == str(me) and metrics["data"]["absentDays"] == 1
    assert events_as(db, me, page["nextAfter"])["events"] == []

    # The classmate's page holds their own change and not mine.
    theirs = events_as(db, classmate, start["nextAfter"])
    assert [e["data"].get("status") for e in theirs["events"] if e["event"] == "attendance_update"] == [
        "sick"
    ]


def test_pages_split_at_the_limit_and_resume_without_a_gap(
    db: psycopg.Connection[Any], school: School
) -> None:
    me = school.students[0]
    after = events_as(db, me, None)["nextAfter"]
    for period in range(1, 6):
        db.execute(school.mark_sql(period, students=[me]))
    seen: list[int] = []
    while True:
        page = events_as(db, me, after, lim=2)
        seen += [e["data"]["period"] for e in page["events"] if e["event"] == "attendance_update"]
        if page["nextAfter"] == after:
            break
        after = page["nextAfter"]
    assert seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("position", ["nonsense", "f" * 32, "7" * 32])
def test_a_position_that_is_not_one_of_ours_gets_a_reset(
    db: psycopg.Connection[Any], school: School, position: str
) -> None:
    page = events_as(db, school.students[0], position)
    assert page["reset"] is True
    (reset,) = page["events"]
    assert reset["event"] == "reset" and reset["id"] == page["nextAfter"]
    assert reset["data"]["reason"] in ("malformed", "future")


def test_a_position_older_than_the_retention_gets_a_reset(
    db: psycopg.Connection[Any], school: School
) -> None:
    me = school.students[0]
    after = events_as(db, me, None)["nextAfter"]
    db.execute(school.mark_sql(1))
    db.execute("update app.events set at = now() - interval '5 days'")
    db.execute("select app.create_event_partitions(0, (now() - interval '5 days')::date)")
    db.execute("select app.drop_expired_event_partitions()")
    page = events_as(db, me, after)
    assert page["reset"] is True and page["events"][0]["data"]["reason"] == "expired"


def test_staff_have_no_event_stream(db: psycopg.Connection[Any], school: School) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, school.teacher, "select api.events(null)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_as(db, school.teacher, "select api.event_stream()")


def test_a_refresh_tells_the_classes_whose_figures_it_changed(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    other = School(db)
    db.execute(school.mark_sql(1))
    db.execute(other.mark_sql(1))
    db.execute("select analytics.refresh()")
    reader.read()
    db.execute(school.mark_sql(1, "absent", school.students[:1]))
    db.execute("select analytics.refresh()")
    figures = [e for e in reader.read() if e[1] == "class_figures"]
    got = db.execute(
        "select class_id from app.events where topic = 'class_figures' order by horizon desc, id desc limit 1"
    ).fetchone()
    assert len(figures) == 1 and got == (school.class_id,)


def test_an_event_names_the_class_the_student_is_in_now(
    db: psycopg.Connection[Any], school: School, reader: Reader
) -> None:
    """Class figures are computed over a class's current members: a change to a record a moved
    student has from their old class moves their new class's figures."""
    db.execute(school.mark_sql(1, students=school.students[:1]))
    reader.read()
    other = School(db, students=1)
    db.execute("update app.students set class_id = %s where id = %s", (other.class_id, school.students[0]))
    db.execute(
        "update app.attendance_records set status = 'sick' where student_id = %s", (school.students[0],)
    )
    reader.read()
    row = db.execute(
        "select class_id from app.events where student_id = %s order by horizon desc, id desc limit 1",
        (school.students[0],),
    ).fetchone()
    assert row == (other.class_id,)
