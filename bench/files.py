"""Files, exports and audit archival, each beside a baseline measured in the same run.

    python -m bench.files [--days 250] [--periods 6] [--exports 40] [--audit-rows 1000000] [--json PATH]

Export of a full year: one student with `days` school days of `periods` periods (250 × 6 =
1,500 records). GET /api/students/export through the edge app in this process (its database
pool, Redis and rate limits; the limit raised so the benchmark measures the export), PDF and
CSV, `exports` times each. Baseline: the same PDF laid out from rows already in memory
(edge.exports.pdf_document alone), and the rows read with one plain query.

Audit archival: `audit-rows` entries in one month long past, detached by
audit.detach_for_archive() and archived by the worker's audit_archive task (write the gzipped
CSV and its manifest, read it back, drop the table). Baseline: COPY of the same table to
nothing, the floor of any archive.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.common import Report, console, machine, percentile
from db.cluster import free_port
from db.migrate import migrate
from db.tempcluster import temp_cluster
from db.tokens import mint
from edge import create_app
from edge.exports import pdf_document
from edge.settings import EdgeSettings
from jobs.settings import Settings
from jobs.tasks import Job
from jobs.tasks.audit_archive import AuditArchive
from jobs.worker import create_pool
from stack.redis_server import EmbeddedRedis


def one_student_year(url: str, days: int, periods: int) -> uuid.UUID:
    student, cls = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into app.classes (id, name) values (%s, 'Bench class')", (cls,))
        conn.execute(
            "insert into app.students (id, class_id, name, email)"
            " values (%s, %s, 'Bench Student', 'b@bench.example')",
            (student, cls),
        )
        conn.execute(
            """
            insert into app.attendance_records (student_id, class_id, date, period, subject, status)
            select %s, %s, date '2026-01-05' + d, p, 'Subject ' || p,
                (array['present', 'present', 'present', 'present', 'absent', 'sick', 'leave'])
                [1 + (d * 7 + p) %% 7]::app.attendance_status
            from generate_series(0, %s - 1) as d, generate_series(1, %s) as p
            """,
            (student, cls, days, periods),
        )
    return student


async def exports(
    url: str, redis_url: str, secret: str, student: uuid.UUID, count: int
) -> dict[str, list[float]]:
    settings = EdgeSettings(
        database_url=url,
        redis_url=redis_url,
        jwt_secret=secret,
        db_pool_min=1,
        db_pool_max=4,
        rate_limits={"export": (1_000_000, 3600)},
    )
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {mint(secret, student, ttl_seconds=7200)}"}
    times: dict[str, list[float]] = {"pdf": [], "csv": []}
    async with app.test_app():
        client = app.test_client()
        for fmt in ("pdf", "csv"):
            for i in range(count + 3):
                started = time.perf_counter()
                response = await client.get(
                    f"/api/students/export?format={fmt}&from=2026-01-01&to=2026-12-31", headers=headers
                )
                body = await response.get_data(as_text=False)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, body[:200]
                if i >= 3:  # the first few warm the pools and the font cache
                    times[fmt].append(elapsed * 1000)
    return times


def baselines(url: str, student: uuid.UUID, count: int) -> tuple[list[float], list[float], int]:
    with psycopg.connect(url, autocommit=True) as conn:
        query = (
            "select r.date, r.period, r.subject, r.status::text, c.name, r.marked_at"
            " from app.attendance_records as r join app.classes as c on c.id = r.class_id"
            " where r.student_id = %s order by r.date, r.period"
        )
        reads: list[float] = []
        rows: list[tuple[object, ...]] = []
        for _ in range(count):
            started = time.perf_counter()
            rows = conn.execute(query, (student,)).fetchall()
            reads.append((time.perf_counter() - started) * 1000)
    summary = {
        "studentName": "Bench Student",
        "className": "Bench class",
        "from": "2026-01-01",
        "to": "2026-12-31",
        "attendanceRate": 57.14,
        "totalClasses": len(rows),
        "presentDays": 0,
        "absentDays": 0,
        "sickDays": 0,
        "leaveDays": 0,
        "notMarked": 0,
    }
    layouts: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        pdf_document(summary, rows)
        layouts.append((time.perf_counter() - started) * 1000)
    return reads, layouts, len(rows)


def archival(url: str, rows: int, directory: Path) -> tuple[float, float, float]:
    """Seconds to detach, then to archive (write, verify, drop); and the COPY baseline."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select audit.create_partitions(0, '2025-03-01')")
        conn.execute(
            """
            insert into audit.audit_logs (action, resource, resource_id, metadata, ip_address, timestamp)
            select 'data_export', 'attendance_records', 'r' || i,
                jsonb_build_object('format', 'csv', 'rows', i %% 500, 'sha256', md5(i::text)),
                '10.0.0.1', date '2025-03-01' + (i %% 28) * interval '1 day' + i * interval '1 millisecond'
            from generate_series(1, %s) as i
            """,
            (rows,),
        )
        conn.execute("analyze audit.audit_logs")
        started = time.perf_counter()
        conn.execute("select audit.detach_for_archive(p_now => '2026-11-30')")
        detach_s = time.perf_counter() - started
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("copy audit_archive.audit_logs_y2025m03 to stdout with (format csv, header)") as copy,
        ):
            for _block in copy:
                pass
        copy_s = time.perf_counter() - started

    async def archive() -> float:
        settings = Settings.from_env({"DATABASE_URL": url, "ARCHIVE_DIR": str(directory)})
        pool = await create_pool(settings)
        try:
            task = AuditArchive(settings, pool)
            job = Job("jobs_low", 0, 1, "audit_archive", {"task": "audit_archive", "month": "2025-03-01"})
            started = time.perf_counter()
            (outcome,) = await task.run([job])
            elapsed = time.perf_counter() - started
            assert outcome.verdict == "done", outcome
            return elapsed
        finally:
            await pool.close()

    archive_s = asyncio.run(archive())
    return detach_s, archive_s, copy_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--periods", type=int, default=6)
    parser.add_argument("--exports", type=int, default=40)
    parser.add_argument("--audit-rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = Report("files", machine({k: v for k, v in vars(args).items() if k != "json"}))
    secret = secrets.token_urlsafe(32)
    with temp_cluster() as pg, tempfile.TemporaryDirectory() as rd:
        redis = EmbeddedRedis(Path(rd), free_port(), secrets.token_urlsafe(12), maxmemory="128mb")
        redis.start()
        try:
            migrate(pg.url(), log=lambda _: None)
            edge_password = secrets.token_urlsafe(12)
            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute(
                    psycopg.sql.SQL("alter role authenticator password {}").format(
                        psycopg.sql.Literal(edge_password)
                    )
                )
            edge_url = pg.url(user="authenticator", password=edge_password)
            student = one_student_year(pg.url(), args.days, args.periods)
            console.print(f"exporting {args.days * args.periods} records, {args.exports} times per format")
            times = asyncio.run(exports(edge_url, redis.url(), secret, student, args.exports))
            reads, layouts, records = baselines(pg.url(), student, args.exports)
            console.print(f"archiving {args.audit_rows} audit rows")
            with tempfile.TemporaryDirectory() as archive_dir:
                detach_s, archive_s, copy_s = archival(pg.url(), args.audit_rows, Path(archive_dir))
        finally:
            redis.stop()
    report.figure("records", records)
    for fmt in ("pdf", "csv"):
        report.figure(f"{fmt}_export_p50_ms", statistics.median(times[fmt]))
        report.figure(f"{fmt}_export_p95_ms", percentile(times[fmt], 95))
    report.figure("baseline_pdf_layout_p50_ms", statistics.median(layouts))
    report.figure("baseline_plain_read_p50_ms", statistics.median(reads))
    report.target("PDF export of a year, p95 (ms)", percentile(times["pdf"], 95), "<=", 300)
    report.figure("audit_rows", args.audit_rows)
    report.figure("archive_detach_s", detach_s)
    report.figure("archive_write_verify_drop_s", archive_s)
    report.figure("baseline_copy_only_s", copy_s)
    report.target("archival of the audit rows (s)", detach_s + archive_s, "<=", 15)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
