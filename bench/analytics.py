"""Analytics benchmark: view refresh, trigger overhead and api latency on a large dataset.

Builds its own Postgres cluster (the embedded configuration) with, by default, 50,000 students
in 1,250 classes x 40 school days x 6 periods (12 M records), then measures in one run:

- refresh of analytics.class_statistics + analytics.student_rankings (built on the summary)
  against the same figures from materialized views over raw records, written as in the seed's
  SQL: the ratio is the point;
- marking a 40-student class in one statement with the summary triggers, against the same
  insert into an identical table without them;
- p50/p95 of api.student_dashboard() and api.class_statistics() for 1,000 random students,
  called as those students, against `select 1` under the same role and claims.

    python -m bench.analytics [--students N --classes N --days N --periods N] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Report, console, machine, percentile
from db.migrate import migrate
from db.tempcluster import temp_cluster

CLUSTER_CONF = {
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}

# The seed's class_statistics SQL (design document, "Data Models"), with this schema's names and
# lower-case statuses, plus the rankings computed the same way: counts scanned from raw records.
RAW_VIEWS = """
create materialized view analytics.raw_class_statistics as
select
  c.id as class_id,
  c.name as class_name,
  count(distinct s.id) as total_students,
  avg(case when ar.total_classes > 0
           then (ar.present_count::float / ar.total_classes::float) * 100 else 0 end) as average_attendance,
  percentile_cont(0.5) within group (
    order by (ar.present_count::float / nullif(ar.total_classes, 0)::float) * 100) as median_attendance,
  max((ar.present_count::float / nullif(ar.total_classes, 0)::float) * 100) as highest_attendance,
  min((ar.present_count::float / nullif(ar.total_classes, 0)::float) * 100) as lowest_attendance,
  count(case when (ar.present_count::float / nullif(ar.total_classes, 0)::float) * 100 < 75 then 1 end)
    as students_at_risk,
  now() as last_calculated
from app.classes c
left join app.students s on s.class_id = c.id
left join lateral (
  select count(*) filter (where status != 'not_marked') as total_classes,
         count(*) filter (where status = 'present') as present_count
  from app.attendance_records ar
  where ar.student_id = s.id
) ar on true
group by c.id, c.name
with no data;
create unique index on analytics.raw_class_statistics (class_id);

create materialized view analytics.raw_student_rankings as
with rated as (
  select s.id as student_id, s.class_id,
         count(*) filter (where ar.status = 'present') as present,
         count(*) filter (where ar.status != 'not_marked') as marked
  from app.students s join app.attendance_records ar on ar.student_id = s.id
  group by s.id, s.class_id
)
select student_id, class_id,
       (present::float / marked::float) * 100 as attendance_rate,
       rank() over (partition by class_id order by present::float / marked::float desc) as rank,
       percent_rank() over (partition by class_id order by present::float / marked::float) as percentile
from rated where marked > 0
with no data;
create unique index on analytics.raw_student_rankings (student_id);
"""


@contextlib.contextmanager
def stopwatch(samples: list[float]) -> Iterator[None]:
    """Append the block's wall time in milliseconds to `samples`."""
    started = time.perf_counter()
    yield
    samples.append((time.perf_counter() - started) * 1000)


def build(
    conn: psycopg.Connection[Any], students: int, classes: int, days: int, periods: int
) -> dict[str, float]:
    """Classes, one teacher each, students with an attendance propensity, then records day by day."""
    conn.execute("select setseed(0.42)")
    conn.execute(
        "insert into app.classes (name) select format('Class %%s', i) from generate_series(1, %s) as i",
        (classes,),
    )
    conn.execute(
        """insert into app.staff (id, name, email, role)
           select gen_random_uuid(), format('Teacher %%s', n), format('t%%s@bench.example', n), 'teacher'
           from generate_series(1, %s) as n""",
        (classes,),
    )
    conn.execute(
        """insert into app.class_teachers (class_id, teacher_id)
           select c.id, t.id from (select id, row_number() over (order by id) as n from app.classes) as c
           join (select id, row_number() over (order by id) as n from app.staff) as t using (n)"""
    )
    conn.execute(
        """insert into app.students (id, class_id, name, email)
           select gen_random_uuid(), c.id, format('Student %%s', n), format('s%%s@bench.example', n)
           from generate_series(1, %s) as n
           join (select id, row_number() over (order by id) - 1 as k from app.classes) as c
             on c.k = n %% %s""",
        (students, classes),
    )
    conn.execute(
        """create unlogged table bench_propensity as
           select id as student_id, class_id, 0.6 + random() * 0.4 as p from app.students"""
    )
    conn.execute("analyze")
    day_sql = """
        insert into app.attendance_records (student_id, class_id, date, period, subject, status)
        select b.student_id, b.class_id, date '2026-01-05' + %s, g.period, 'Maths',
               case when random() < b.p then 'present'::app.attendance_status
                    when random() < 0.6 then 'absent' when random() < 0.6 then 'sick'
                    else 'leave' end
        from bench_propensity as b cross join generate_series(1, %s) as g (period)
    """
    load_ms: list[float] = []
    for day in range(days):
        with stopwatch(load_ms):
            # School days only: two days are skipped after every five.
            conn.execute(day_sql, (day + day // 5 * 2, periods))
    conn.execute("vacuum analyze")
    return {"load_s": sum(load_ms) / 1000, "load_day_ms_median": statistics.median(load_ms)}


def measure_refresh(conn: psycopg.Connection[Any], rounds: int) -> dict[str, float]:
    conn.execute(RAW_VIEWS)
    conn.execute("refresh materialized view analytics.raw_class_statistics")
    conn.execute("refresh materialized view analytics.raw_student_rankings")
    conn.execute("select analytics.refresh()")
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(rounds):
        with stopwatch(ours):
            conn.execute("select analytics.refresh()")
        with stopwatch(raw):
            conn.execute("refresh materialized view concurrently analytics.raw_class_statistics")
            conn.execute("refresh materialized view concurrently analytics.raw_student_rankings")
    return {"refresh_summary_ms": statistics.median(ours), "refresh_raw_ms": statistics.median(raw)}


def measure_marking(conn: psycopg.Connection[Any], rounds: int) -> dict[str, float]:
    """One 40-row statement per round, into the real table and into a copy without triggers."""
    conn.execute(
        """create table bench_plain_records (like app.attendance_records including all);
           alter table bench_plain_records
             add foreign key (student_id) references app.students (id),
             add foreign key (class_id) references app.classes (id),
             add foreign key (marked_by) references app.staff (id)"""
    )
    row = conn.execute(
        "select class_id from app.students group by class_id having count(*) = 40 limit 1"
    ).fetchone()
    assert row is not None, "the benchmark needs a class of 40 students (students / classes = 40)"
    class_id = row[0]
    statement = """insert into {} (student_id, class_id, date, period, subject, status)
                   select id, class_id, date '2030-01-01' + %s, 1, 'Maths', 'present'
                   from app.students where class_id = %s"""
    with_triggers: list[float] = []
    without: list[float] = []
    for i in range(rounds):
        for table, samples in (("app.attendance_records", with_triggers), ("bench_plain_records", without)):
            with conn.transaction(), stopwatch(samples):
                conn.execute(statement.format(table), (i, class_id))
    return {
        "mark40_with_triggers_ms_median": statistics.median(with_triggers),
        "mark40_without_triggers_ms_median": statistics.median(without),
        "mark40_with_triggers_ms_p95": percentile(with_triggers, 95),
        "mark40_without_triggers_ms_p95": percentile(without, 95),
    }


def measure_api(conn: psycopg.Connection[Any], calls: int) -> dict[str, float]:
    students = conn.execute("select id from app.students order by random() limit %s", (calls,)).fetchall()
    samples: dict[str, list[float]] = {"select1": [], "dashboard": [], "class_statistics": []}
    queries = {
        "select1": "select 1",
        "dashboard": "select api.student_dashboard()",
        "class_statistics": "select api.class_statistics()",
    }
    for (student,) in students:
        claims = json.dumps({"sub": str(student), "role": "authenticated", "aud": "authenticated"})
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            for name, sql in queries.items():
                with stopwatch(samples[name]):
                    conn.execute(sql, prepare=True).fetchone()
    out = {}
    for name, values in samples.items():
        out[f"{name}_ms_p50"] = percentile(values, 50)
        out[f"{name}_ms_p95"] = percentile(values, 95)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=1_250)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--periods", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5, help="refresh rounds (median reported)")
    parser.add_argument("--marks", type=int, default=200, help="40-row marking statements per table")
    parser.add_argument("--calls", type=int, default=1000, help="students whose api calls are timed")
    parser.add_argument("--json", type=Path, help="write the figures here (SPEC section 8 format)")
    args = parser.parse_args(argv)

    with temp_cluster(extra_conf=CLUSTER_CONF) as pg:
        migrate(pg.url(), log=lambda _: None)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            version = conn.execute("show server_version").fetchone()
            report = Report("analytics", machine({"postgres": version[0] if version else None}))
            records = args.students * args.days * args.periods
            console.print(
                f"building {args.students:,} students in {args.classes:,} classes, {records:,} records"
            )
            for name, value in build(conn, args.students, args.classes, args.days, args.periods).items():
                report.figure(name, value)
            report.figure("records", records)
            console.print("timing refreshes")
            for name, value in measure_refresh(conn, args.rounds).items():
                report.figure(name, value)
            console.print("timing 40-row marking statements")
            for name, value in measure_marking(conn, args.marks).items():
                report.figure(name, value)
            console.print("timing api calls")
            conn.execute("select analytics.refresh()")
            for name, value in measure_api(conn, args.calls).items():
                report.figure(name, value)

    f = report.figures
    report.figure("refresh_speedup", f["refresh_raw_ms"] / f["refresh_summary_ms"])
    report.figure(
        "trigger_added_ms", f["mark40_with_triggers_ms_median"] - f["mark40_without_triggers_ms_median"]
    )
    report.target("refresh_raw_ms / refresh_summary_ms", f["refresh_speedup"], ">=", 20)
    report.target("refresh_summary_ms", f["refresh_summary_ms"], "<=", 1000)
    report.target("trigger_added_ms (40-row statement)", f["trigger_added_ms"], "<=", 5)
    report.target("dashboard_ms_p95", f["dashboard_ms_p95"], "<=", 5)
    report.target("class_statistics_ms_p95", f["class_statistics_ms_p95"], "<=", 2)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
