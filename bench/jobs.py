"""Alerts, the jobs worker and email, each beside a baseline measured in the same run.

    python -m bench.jobs [--messages 50000] [--emails 10000] [--connections 4]
                         [--students 50000] [--marks 200] [--json PATH]

1. Worker throughput with a do-nothing task, beside raw batched pgmq read-and-archive (the
   same batch size, one connection, nothing else).
2. Alert emails into an aiosmtpd sink (its own process, storing files) through the worker,
   beside raw aiosmtplib sending the same rendered messages over the same number of
   connections.
3. The hourly backstop over N students (classify, create alerts and notifications, enqueue):
   every student stale (records loaded with the alert trigger off), a rerun (which creates
   nothing), and one student in 20 stale. Baseline: the classification alone (read only).
4. Redelivery after SIGKILL: a worker killed while its email waits for the server's reply;
   the time until a second worker sends it again, beside the bound (visibility timeout + poll).
5. The trigger path: marking a class of 40 in one statement, alert triggers on and off; all
   present (the check alone), then one in five absent (some statements raise alerts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import psycopg
from aiosmtpd.controller import Controller

from bench.common import Report, console, machine
from db.cluster import free_port
from db.migrate import migrate
from db.tempcluster import temp_cluster
from jobs.mail import render
from jobs.settings import Settings
from jobs.tasks import Task
from jobs.tasks.email import Email
from jobs.tasks.noop import Noop
from jobs.worker import Metrics, Worker, create_pool
from stack.smtp_sink import MailSink

BATCH = 100


def settings_for(url: str, smtp_port: int, connections: int, **more: str) -> Settings:
    env = {
        "DATABASE_URL": url,
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SMTP_CONNECTIONS": str(connections),
        "JOBS_BATCH": str(BATCH),
        "JOBS_POLL_S": "0.2",
        **more,
    }
    return Settings.from_env(env)


async def enqueue_noops(url: str, queue: str, count: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "select pgmq.send_batch($1, array(select jsonb_build_object('task', 'noop')"
            " from generate_series(1, $2)))",
            queue,
            count,
        )
    finally:
        await conn.close()


async def raw_read_archive(url: str, queue: str, count: int) -> float:
    """Messages a second: read a batch, archive it, one connection, until the queue is empty."""
    await enqueue_noops(url, queue, count)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        done = 0
        while True:
            rows = await conn.fetch("select msg_id from pgmq.read($1, 30, $2)", queue, BATCH)
            if not rows:
                break
            await conn.execute("select pgmq.archive($1, $2::bigint[])", queue, [r[0] for r in rows])
            done += len(rows)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    assert done == count, (done, count)
    return count / elapsed


async def run_worker_until(
    settings: Settings,
    tasks: list[Callable[[asyncpg.Pool], Task]],
    done: Callable[[asyncpg.Connection], Awaitable[bool]],
    timeout: float = 600,
) -> float:
    """Run a worker in this process until `done(conn)` holds; the seconds it took."""
    pool = await create_pool(settings)
    worker = Worker(settings, pool, [t(pool) for t in tasks], Metrics())
    checker = await asyncpg.connect(settings.database_url)
    started = time.perf_counter()
    runner = asyncio.create_task(worker.run())
    try:
        while not await done(checker):
            if time.perf_counter() - started > timeout:
                raise TimeoutError("the worker did not finish")
            if runner.done():
                runner.result()
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        await asyncio.gather(runner, return_exceptions=True)
        for task in worker.tasks.values():
            await task.close()
        await checker.close()
        await pool.close()
    return elapsed


async def worker_noop(url: str, count: int) -> float:
    await enqueue_noops(url, "jobs_normal", count)
    settings = settings_for(url, 1, 1)

    async def empty(conn: asyncpg.Connection) -> bool:
        return bool(await conn.fetchval("select not exists (select 1 from pgmq.q_jobs_normal)"))

    elapsed = await run_worker_until(settings, [lambda _pool: Noop()], empty)
    return count / elapsed


def make_students(url: str, count: int, per_class: int = 40) -> list[uuid.UUID]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into app.classes (id, name)
            select ('00000000-0000-4000-8000-' || lpad(to_hex(c), 12, '0'))::uuid, 'Class ' || c
            from generate_series(1, %s) as c
            """,
            ((count + per_class - 1) // per_class,),
        )
        conn.execute(
            """
            insert into app.students (id, class_id, name, email)
            select gen_random_uuid(),
                ('00000000-0000-4000-8000-' || lpad(to_hex((i - 1) / %s + 1), 12, '0'))::uuid,
                'Student ' || i, 'student' || i || '@bench.example'
            from generate_series(1, %s) as i
            """,
            (per_class, count),
        )
        return [r[0] for r in conn.execute("select id from app.students order by id").fetchall()]


def create_emails(url: str, count: int) -> None:
    """`count` alert notifications (emails on jobs_normal), ten per student."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            select count(*) from app.create_notifications(array(
                select row(s.id, 'attendance_warning', 'Attendance warning: below 80.00 %%',
                    'Your attendance is 77.50 %% (31 of 40 marked periods present), below 80.00 %%.',
                    'warning', null,
                    '{"alert": "warning", "rate": 77.5, "present": 31, "marked": 40, "recovery": 5,
                      "recentAbsences": ["2026-11-27", "2026-11-26"]}'::jsonb)::app.new_notification
                from (select id from app.students order by id limit %s) as s, generate_series(1, 10)
            ))
            """,
            ((count + 9) // 10,),
        )


class CountingSink:
    """aiosmtpd handler that takes every message and keeps nothing: the sink must not be what
    the two sides of the comparison wait for."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 accepted"


def serve_sink(port: int) -> None:
    """`python -m bench.jobs --sink PORT`: the counting sink in a process of its own."""
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    controller = Controller(CountingSink(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait(stop)
    controller.stop()


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.jobs", "--sink", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(3) == b"220":
                    return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


async def raw_smtp(port: int, count: int, connections: int) -> float:
    """Messages a second with aiosmtplib alone: `connections` clients, each building (with the
    worker's own renderer) and sending its share; no database, no queue."""
    deliveries = sample_deliveries(count)
    chunks = [deliveries[i::connections] for i in range(connections)]

    async def one(chunk: list[dict[str, Any]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        for delivery in chunk:
            await client.send_message(render(delivery, "a@localhost", "http://x/p"), sender="a@localhost")
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in chunks))
    return count / (time.perf_counter() - started)


async def worker_email(url: str, port: int, connections: int, count: int) -> float:
    settings = settings_for(url, port, connections)

    async def all_sent(conn: asyncpg.Connection) -> bool:
        return bool(
            await conn.fetchval(
                "select not exists (select 1 from app.notification_deliveries"
                " where status not in ('sent', 'dead') and channel = 'email')"
            )
        )

    elapsed = await run_worker_until(settings, [lambda pool: Email(settings, pool)], all_sent)
    return count / elapsed


def sample_deliveries(count: int) -> list[dict[str, Any]]:
    """What app.begin_email_delivery() answers for the benchmark's alert emails."""
    delivery = {
        "recipient": "student1@bench.example",
        "studentName": "Student 1",
        "title": "Attendance warning: below 80.00 %",
        "message": "Your attendance is 77.50 % (31 of 40 marked periods present), below 80.00 %.",
        "severity": "warning",
        "createdAt": "2026-11-30T08:00:00+00:00",
        "metadata": {
            "alert": "warning",
            "rate": 77.5,
            "present": 31,
            "marked": 40,
            "recovery": 5,
            "recentAbsences": ["2026-11-27", "2026-11-26"],
        },
    }
    return [{**delivery, "messageId": f"<{uuid.uuid4()}@bench.localhost>"} for _ in range(count)]


def stale_school(url: str, students: int) -> None:
    """Every student with twelve marked periods, two thirds of them in a level, loaded with the
    alert trigger off: every alert state is stale, as after a bulk load or a threshold change."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table app.attendance_records disable trigger _300_alerts_insert")
        with conn.cursor() as cur:
            cur.execute(
                """
                insert into app.attendance_records (student_id, class_id, date, period, subject, status)
                select s.id, s.class_id, date '2026-11-02', p, 'Maths',
                    case when p <= (abs(hashtext(s.id::text)) % 6) then 'absent' else 'present' end
                    ::app.attendance_status
                from app.students as s, generate_series(1, 12) as p
                """
            )
        conn.execute("alter table app.attendance_records enable trigger _300_alerts_insert")
        conn.execute("vacuum analyze")


def timed_sql(url: str, sql: str) -> tuple[float, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        row = conn.execute(sql).fetchone()
        return time.perf_counter() - started, (row[0] if row else None)


CLASSIFY = (
    "select count(*) filter (where level is not null)"
    " from app.alert_standing(array(select id from app.students))"
)


async def redelivery_after_kill(url: str, visibility_s: int, poll_s: float) -> float:
    """Seconds from SIGKILL of a worker holding an email to its resend by the next worker."""

    class Holding(MailSink):
        def __init__(self) -> None:
            super().__init__()
            self.first = threading.Event()
            self.held: bytes | None = None
            self.second_at: float | None = None
            self.release = threading.Event()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            content = envelope.original_content or envelope.content
            found = re.search(rb"^Message-ID: *(<[^>]+>)", content, re.MULTILINE | re.IGNORECASE)
            content = found.group(1) if found else b""
            if not self.first.is_set():
                self.held = content
                self.first.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
                return "451 try later"
            if content == self.held:
                self.second_at = time.perf_counter()
            return "250 ok"

    handler = Holding()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    with psycopg.connect(url, autocommit=True) as conn:
        # Only this email in the queues: earlier parts' leftovers would keep the worker busy.
        conn.execute(
            "select pgmq.purge_queue(q) from unnest(array['jobs_urgent', 'jobs_normal', 'jobs_low']) as q"
        )
        student = conn.execute("select id from app.students limit 1").fetchone()
        assert student is not None
        conn.execute(
            "select app.create_notifications("
            "array[row(%s, 'mahroom_alert', 'Mahroom', 'M', 'error', null, null)"
            "::app.new_notification])",
            (student[0],),
        )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
        "JOBS_VISIBILITY_S": str(visibility_s),
        "JOBS_POLL_S": str(poll_s),
    }
    first = subprocess.Popen([sys.executable, "-m", "jobs"], env=env, stderr=subprocess.DEVNULL)
    second: subprocess.Popen[bytes] | None = None
    try:
        if not await asyncio.to_thread(handler.first.wait, 30):
            raise RuntimeError("the first worker never sent")
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.perf_counter()
        handler.release.set()
        second = subprocess.Popen([sys.executable, "-m", "jobs"], env=env, stderr=subprocess.DEVNULL)
        while handler.second_at is None:
            if time.perf_counter() - killed_at > visibility_s + 30:
                raise RuntimeError("the email was never sent again")
            await asyncio.sleep(0.01)
        return handler.second_at - killed_at
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        controller.stop()


def marking_overhead(url: str, marks: int, absent_share: float) -> tuple[float, float]:
    """Median milliseconds of one 40-row marking statement, alert triggers on and off. With
    absences, some statements take students into a level and raise their alerts."""
    with psycopg.connect(url, autocommit=True) as conn:
        classes = [
            r[0]
            for r in conn.execute(
                "select class_id from app.students group by class_id having count(*) = 40 order by 1 limit 50"
            ).fetchall()
        ]
        start = conn.execute("select coalesce(max(date), date '2026-11-02') + 1 from app.attendance_records")
        first_day = (start.fetchone() or (None,))[0]

        def round_of(enabled: bool, offset: int) -> list[float]:
            action = "enable" if enabled else "disable"
            for op in ("insert", "update", "delete"):
                conn.execute(f"alter table app.attendance_records {action} trigger _300_alerts_{op}")
            samples = []
            for i in range(marks):
                cls = classes[i % len(classes)]
                day = offset + i // len(classes)
                started = time.perf_counter()
                conn.execute(
                    "insert into app.attendance_records (student_id, class_id, date, period, subject, status)"
                    " select id, class_id, %s::date + %s, 1, 'Maths',"
                    " case when random() < %s then 'absent' else 'present' end::app.attendance_status"
                    " from app.students where class_id = %s",
                    (first_day, day, absent_share, cls),
                )
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        on: list[float] = []
        off: list[float] = []
        rounds = marks // len(classes) + 1
        for r in range(2):  # interleaved rounds: neither side gets the warm cache alone
            off += round_of(False, 2 * r * rounds)
            on += round_of(True, (2 * r + 1) * rounds)
        return statistics.median(on), statistics.median(off)


async def main_async(args: argparse.Namespace, report: Report) -> None:
    with temp_cluster(extra_conf={"max_connections": "100"}) as pg:
        url = pg.url()
        migrate(url, log=lambda _: None)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("update cron.job set active = false")

        parts = {int(p) for p in args.only.split(",") if p}
        make_students(url, max(args.students, args.emails // 10))
        if 1 in parts:
            await part_noop(url, args, report)
        if 2 in parts:
            await part_email(url, args, report)
        if 3 in parts:
            part_backstop(url, args, report)
        if 4 in parts:
            await part_redelivery(url, report)
        if 5 in parts:
            part_marking(url, args, report)


async def part_noop(url: str, args: argparse.Namespace, report: Report) -> None:
    console.print(f"1. {args.messages} do-nothing messages")
    raw = await raw_read_archive(url, "jobs_low", args.messages)
    work = await worker_noop(url, args.messages)
    report.figure("raw_read_archive_msg_s", raw)
    report.figure("worker_noop_msg_s", work)
    report.target("worker noop / raw read-and-archive", work / raw, ">=", 0.5)


async def part_email(url: str, args: argparse.Namespace, report: Report) -> None:
    console.print(f"2. {args.emails} alert emails over {args.connections} connections")
    sink, port = start_sink()
    try:
        raw_mail = await raw_smtp(port, args.emails, args.connections)
        create_emails(url, args.emails)
        worker_mail = await worker_email(url, port, args.connections, args.emails)
    finally:
        sink.terminate()
        sink.wait()
    report.figure("raw_aiosmtplib_msg_s", raw_mail)
    report.figure("worker_email_msg_s", worker_mail)
    report.target("seconds for the emails", args.emails / worker_mail, "<=", 30)
    report.target("worker email / raw aiosmtplib", worker_mail / raw_mail, ">=", 0.8)


def part_backstop(url: str, args: argparse.Namespace, report: Report) -> None:
    console.print(f"3. the backstop over {args.students} students")
    stale_school(url, args.students)
    classify_s, in_levels = timed_sql(url, CLASSIFY)
    worst_s, worst = timed_sql(url, "select app.check_alerts()")
    rerun_s, again = timed_sql(url, "select app.check_alerts()")
    behind = fall_behind(url, 20)
    typical_s, typical = timed_sql(url, "select app.check_alerts()")
    report.figure("classification_only_ms", classify_s * 1000)
    report.figure("students_in_a_level", float(in_levels))
    report.figure("every_student_stale_ms", worst_s * 1000)
    report.figure("every_student_stale_notifications", float(worst))
    report.figure("rerun_ms", rerun_s * 1000)
    report.figure("rerun_notifications", float(again))
    report.figure("one_in_20_stale_students", float(behind))
    report.figure("one_in_20_stale_ms", typical_s * 1000)
    report.figure("one_in_20_stale_notifications", float(typical))
    report.target("backstop seconds, 1 in 20 students stale", typical_s, "<=", 1.0)
    report.target("backstop seconds, every student stale", worst_s, "<=", 1.0)
    report.target("rerun creates", float(again), "<=", 0)


def fall_behind(url: str, one_in: int) -> int:
    """One student in `one_in` gets a day of absences with the alert trigger off: their state
    is stale again, deeper than it says. Returns how many students that is."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table app.attendance_records disable trigger _300_alerts_insert")
        cur = conn.execute(
            """
            insert into app.attendance_records (student_id, class_id, date, period, subject, status)
            select s.id, s.class_id, date '2026-11-03', p, 'Maths', 'absent'
            from app.students as s, generate_series(1, 12) as p
            where abs(hashtext(s.id::text || 'late')) %% %s = 0
            """,
            (one_in,),
        )
        conn.execute("alter table app.attendance_records enable trigger _300_alerts_insert")
        conn.execute("analyze")
        return (cur.rowcount or 0) // 12


async def part_redelivery(url: str, report: Report) -> None:
    console.print("4. redelivery after SIGKILL")
    visibility, poll = 2, 1.0
    redelivered = await redelivery_after_kill(url, visibility, poll)
    report.figure("redelivery_s", redelivered)
    report.figure("visibility_plus_poll_s", visibility + poll)
    report.target("redelivery seconds", redelivered, "<=", visibility + poll)


def part_marking(url: str, args: argparse.Namespace, report: Report) -> None:
    console.print(f"5. marking a class of 40, {args.marks} statements per side")
    on, off = marking_overhead(url, args.marks, 0.0)
    report.figure("mark_40_present_alerts_on_ms", on)
    report.figure("mark_40_present_alerts_off_ms", off)
    report.target("alert check per 40-row statement (ms)", on - off, "<=", 2.0)
    on, off = marking_overhead(url, args.marks, 0.2)
    report.figure("mark_40_one_in_5_absent_alerts_on_ms", on)
    report.figure("mark_40_one_in_5_absent_alerts_off_ms", off)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.jobs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--marks", type=int, default=200)
    parser.add_argument("--only", default="1,2,3,4,5", help="which parts to run, e.g. 3,5")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink:
        serve_sink(args.sink)
        return 0
    report = Report("jobs", machine({k: v for k, v in vars(args).items() if k != "json"}))
    asyncio.run(main_async(args, report))
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
