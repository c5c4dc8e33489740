"""Files, exports and audit archival, each beside a baseline measured in the same run.

    python -m bench.files [--only uploads,exports,archival] [--uploads 16] [--concurrency 4]
                          [--days 250] [--periods 6] [--exports 40] [--audit-rows 1000000] [--json PATH]

Uploads of 10 MiB PDFs to a served edge (hypercorn, local storage, a token per request, the
rate limit raised): `uploads` per round from `concurrency` clients at once, five rounds
interleaved with the baseline, bench/upload_app.py, which streams the same multipart body to a
file (written aside, synced, renamed) with no parsing, hashing, database or limits. Memory: the
served process's peak RSS during 32 uploads at once, less its RSS before, per upload, for both
(the median of three bursts: RSS moves with the allocator as much as with the uploads). A
first burst of 32 is not counted: it opens what that concurrency needs once (database
connections, threads).

Junk: a body whose multipart boundary is buried after megabytes of padding, and one of a
thousand tiny parts; the edge worker's CPU (user + system) per refused request, less its idle
CPU over the same time.

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
import functools
import secrets
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import psycopg

from bench.common import Report, console, machine, percentile
from bench.edge import hypercorn, worker_pid
from db.cluster import free_port
from db.migrate import migrate
from db.tempcluster import temp_cluster
from db.tokens import mint
from edge import create_app
from edge.exports import pdf_document
from edge.main import SERVED_APP
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
        # Archival starts past the threshold: this month alone crosses it, whatever else ran.
        conn.execute("select audit.detach_for_archive(p_threshold => %s, p_now => '2026-11-30')", (rows - 1,))
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


MIB = 1024 * 1024
BOUNDARY = "bench-boundary-7c1f"


def upload_body(size: int) -> bytes:
    """A multipart form with one PDF of exactly `size` bytes (a header, filler, an EOF mark)."""
    head, tail = b"%PDF-1.7\n%bench\n", b"\n%%EOF\n"
    pdf = head + b"0" * (size - len(head) - len(tail)) + tail
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def junk_bodies() -> dict[str, bytes]:
    """Bodies meant to make a multipart parser work: the boundary buried after 8 MiB of padding
    full of near-boundaries, and a thousand tiny parts."""
    near = f"\r\n--{BOUNDARY[:-1]}x".encode()
    padded = (near * (8 * MIB // len(near))) + upload_body(1024)
    tiny = (
        b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'.encode()
            for i in range(1000)
        )
        + f"--{BOUNDARY}--\r\n".encode()
    )
    return {"junk_padding": padded, "thousand_parts": tiny}


async def _post_many(url: str, headers: dict[str, str], body: bytes, count: int, concurrency: int) -> float:
    """Seconds for `count` uploads of `body`, `concurrency` at a time; each must be a 201."""
    queue = list(range(count))
    async with httpx.AsyncClient(timeout=120) as client:

        async def one_client() -> None:
            while queue:
                queue.pop()
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 201, response.text[:300]

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        return time.perf_counter() - started


def _burst(url: str, headers: dict[str, str], body: bytes, count: int) -> float:
    return asyncio.run(_post_many(url, headers, body, count, count))


def _peak_rss(pid: int, run: Callable[[], object]) -> tuple[int, int]:
    """The process's RSS before `run` and its peak while `run` runs (sampled every 2 ms)."""
    process = psutil.Process(pid)
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return before, peak


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _refused_raw(port: int, token: str, body: bytes) -> int:
    """Send the request head and then the body until the edge answers; its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = (
            f"POST /api/students/files/upload HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode())
        conn.settimeout(0.001)
        answer = b""
        for start in range(0, len(body), 64 * 1024):
            try:
                conn.sendall(body[start : start + 64 * 1024])
            except OSError:
                break
            try:
                answer += conn.recv(65536)
                if answer:
                    break
            except (TimeoutError, BlockingIOError):
                continue
        conn.settimeout(30)
        while b"\r\n" not in answer:
            answer += conn.recv(65536)
    return int(answer.split(b" ", 2)[1])


def uploads(
    edge_db_url: str, redis_url: str, secret: str, student: uuid.UUID, args: argparse.Namespace
) -> dict[str, float]:
    token = mint(secret, student, ttl_seconds=7200)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    body = upload_body(10 * MIB)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as edge_dir, tempfile.TemporaryDirectory() as bare_dir:
        edge_env = {
            "EDGE_DATABASE_URL": edge_db_url,
            "REDIS_URL": redis_url,
            "JWT_SECRET": secret,
            "STORAGE_DIR": edge_dir,
            "RATE_LIMITS": '{"upload": [1000000, 3600]}',
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "8",
        }
        with (
            hypercorn(SERVED_APP, edge_env) as (edge_url, edge_proc),
            hypercorn("bench.upload_app:app", {"BENCH_UPLOAD_DIR": bare_dir}) as (bare_url, bare_proc),
        ):
            targets = {
                "edge": (f"{edge_url}/api/students/files/upload", worker_pid(edge_proc), edge_dir),
                "bare": (f"{bare_url}/upload", worker_pid(bare_proc), bare_dir),
            }

            def clear(directory: str) -> None:
                for path in Path(directory).iterdir():
                    path.unlink()

            # Warm both (connections, pools, first-request imports).
            for url, _, directory in targets.values():
                asyncio.run(_post_many(url, headers, body, 2, 2))
                clear(directory)
            rates: dict[str, list[float]] = {"edge": [], "bare": []}
            for _ in range(5):
                for name, (url, _, directory) in targets.items():
                    seconds = asyncio.run(_post_many(url, headers, body, args.uploads, args.concurrency))
                    rates[name].append(args.uploads * len(body) / MIB / seconds)
                    clear(directory)
            for name in targets:
                figures[f"{name}_upload_mib_s"] = statistics.median(rates[name])
            figures["upload_throughput_ratio"] = figures["edge_upload_mib_s"] / figures["bare_upload_mib_s"]

            at_once = 32
            for name, (url, pid, directory) in targets.items():
                # A first burst opens what concurrency needs once (pool connections, threads).
                _burst(url, headers, body, at_once)
                clear(directory)
                extras = []
                for _ in range(3):
                    before, peak = _peak_rss(pid, functools.partial(_burst, url, headers, body, at_once))
                    extras.append((peak - before) / 1024 / at_once)
                    clear(directory)
                figures[f"{name}_peak_extra_kib_per_upload"] = statistics.median(extras)

            port = int(edge_url.rsplit(":", 1)[1])
            pid = targets["edge"][1]
            for name, junk in junk_bodies().items():
                count = 20
                idle_start, started = _cpu(pid), time.perf_counter()
                time.sleep(1.0)
                idle_per_s = (_cpu(pid) - idle_start) / (time.perf_counter() - started)
                cpu_start, started = _cpu(pid), time.perf_counter()
                statuses = {_refused_raw(port, token, junk) for _ in range(count)}
                wall = time.perf_counter() - started
                assert statuses == {400}, statuses
                used = _cpu(pid) - cpu_start - idle_per_s * wall
                figures[f"{name}_cpu_ms_per_request"] = max(0.0, used) * 1000 / count
            assert not any(Path(edge_dir).iterdir()), "a refused body left a file"
    return figures


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
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", default="uploads,exports,archival")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
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
            if "uploads" in parts:
                console.print(f"uploading 10 MiB PDFs: {args.uploads} per round, {args.concurrency} at once")
                upload_figures = uploads(edge_url, redis.url(), secret, student, args)
            if "exports" in parts:
                console.print(
                    f"exporting {args.days * args.periods} records, {args.exports} times per format"
                )
                times = asyncio.run(exports(edge_url, redis.url(), secret, student, args.exports))
                reads, layouts, records = baselines(pg.url(), student, args.exports)
            if "archival" in parts:
                console.print(f"archiving {args.audit_rows} audit rows")
                with tempfile.TemporaryDirectory() as archive_dir:
                    detach_s, archive_s, copy_s = archival(pg.url(), args.audit_rows, Path(archive_dir))
        finally:
            redis.stop()
    if "uploads" in parts:
        for name, value in upload_figures.items():
            report.figure(name, value)
        report.target(
            "upload throughput, edge / bare stream to disk",
            upload_figures["upload_throughput_ratio"],
            ">=",
            0.7,
        )
        report.target(
            "peak extra memory per concurrent upload (KiB)",
            upload_figures["edge_peak_extra_kib_per_upload"],
            "<=",
            256,
        )
        for junk in ("junk_padding", "thousand_parts"):
            report.target(
                f"{junk.replace('_', ' ')} body refused, CPU (ms)",
                upload_figures[f"{junk}_cpu_ms_per_request"],
                "<=",
                20,
            )
    if "exports" in parts:
        report.figure("records", records)
        for fmt in ("pdf", "csv"):
            report.figure(f"{fmt}_export_p50_ms", statistics.median(times[fmt]))
            report.figure(f"{fmt}_export_p95_ms", percentile(times[fmt], 95))
        report.figure("baseline_pdf_layout_p50_ms", statistics.median(layouts))
        report.figure("baseline_plain_read_p50_ms", statistics.median(reads))
        report.target("PDF export of a year, p95 (ms)", percentile(times["pdf"], 95), "<=", 300)
    if "archival" in parts:
        report.figure("audit_rows", args.audit_rows)
        report.figure("archive_detach_s", detach_s)
        report.figure("archive_write_verify_drop_s", archive_s)
        report.figure("baseline_copy_only_s", copy_s)
        report.target("archival of the audit rows (s)", detach_s + archive_s, "<=", 15)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
