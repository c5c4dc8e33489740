"""Live-update benchmark: events from a commit to the browsers' streams, and what they cost.

Starts its own Postgres (migrated; students in classes of 40) and Redis, and one edge process
under the project's hypercorn configuration (edge/hypercorn.toml, 1 uvloop worker). The
clients are plain sockets in this process, each a student with its own token, reading the
stream with h11; times are taken on this process's clock.

1. Commit -> client: `--connected` students stream while classes of 40 are marked one
   statement at a time (`--rate` statements a second); the time from each statement's commit
   (its autocommit statement returning) to each of its 40 students reading its
   attendance_update (and its metrics_update). Baseline: a bare NOTIFY -> LISTEN round trip,
   from sending the NOTIFY to reading it.
2. Broadcast: `--broadcast` students stream; one statement marks all of them; the time from its
   commit to each one's attendance_update (and metrics_update). Baseline: the statement's own
   duration.
3. Idle streams: RSS of the serving process with 1k, 5k, 10k idle streams (`--idle`), per
   stream; beside the same process with no stream, and beside two baselines with as many idle
   streams under the same hypercorn configuration (bench/stream_apps.py): a bare Quart
   streaming view and a bare ASGI stream.
4. Marking throughput, statements a second, with `--writers` concurrent writers each marking
   its own class: with the outbox triggers and NOTIFY, beside the same schema with those
   triggers disabled. Rounds interleave.

    python -m bench.live [--connected 1000 --broadcast 5000 --idle 1000,5000,10000
                          --writers 1,16,64 --duration 5 --rounds 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import resource
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import h11
import psutil
import psycopg

from bench.common import Report, console, machine, percentile
from bench.edge import hypercorn, worker_pid
from db.cluster import free_port
from db.migrate import migrate
from db.tempcluster import temp_cluster
from db.tokens import mint
from edge.main import SERVED_APP
from stack.redis_server import EmbeddedRedis

CLASS_SIZE = 40
EVENT_TRIGGERS = ("_200_events_insert", "_200_events_update", "_200_events_delete", "_200_events_truncate")
SSE = "/api/students/notifications/sse"

Handler = Callable[[str, str, bytes, float], None]


class Client:
    """One student's stream over a plain socket: calls `on_event(student, event, data, t)`."""

    def __init__(self, host: str, port: int, student: str, token: str, on_event: Handler | None) -> None:
        self.host, self.port, self.student, self.token = host, port, student, token
        self.on_event = on_event
        self.opened = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        conn = h11.Connection(h11.CLIENT)
        writer.write(
            conn.send(
                h11.Request(
                    method="GET",
                    target=SSE,
                    headers=[("Host", self.host), ("Authorization", f"Bearer {self.token}")],
                )
            )
        )
        writer.write(conn.send(h11.EndOfMessage()))
        buffer = b""
        try:
            while True:
                data = await reader.read(65536)
                now = time.perf_counter()
                if not data:
                    return
                conn.receive_data(data)
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage):
                        break
                    if isinstance(event, h11.Response):
                        if event.status_code != 200:
                            raise RuntimeError(f"stream of {self.student}: {event.status_code}")
                    elif isinstance(event, h11.Data):
                        buffer += event.data
                if b"\n\n" in buffer:
                    *messages, buffer = buffer.split(b"\n\n")
                    self.opened.set()
                    if self.on_event is not None:
                        for m in messages:
                            self._dispatch(m, now)
        finally:
            writer.close()

    def _dispatch(self, message: bytes, now: float) -> None:
        kind, data = b"", b""
        for line in message.split(b"\n"):
            if line.startswith(b"event: "):
                kind = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if kind and self.on_event is not None:
            self.on_event(self.student, kind.decode(), data, now)


async def open_streams(
    host: str, port: int, students: list[str], tokens: dict[str, str], on_event: Handler | None
) -> list[Client]:
    """Open one stream per student, a few hundred at a time; each has read its first message."""
    clients = []
    for i in range(0, len(students), 200):
        batch = [Client(host, port, s, tokens[s], on_event) for s in students[i : i + 200]]
        for c in batch:
            c.start()
        await asyncio.wait_for(asyncio.gather(*(c.opened.wait() for c in batch)), 60)
        clients += batch
    return clients


async def close_streams(clients: list[Client]) -> None:
    for c in clients:
        if c.task is not None:
            c.task.cancel()
    await asyncio.gather(*(c.task for c in clients if c.task is not None), return_exceptions=True)


def build_school(url: str, students: int) -> dict[str, list[str]]:
    """Classes of 40 students, a teacher each, no records: class id -> student ids."""
    classes: dict[str, list[str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for c in range(-(-students // CLASS_SIZE)):
            cid = str(uuid.uuid4())
            conn.execute("insert into app.classes (id, name) values (%s, %s)", (cid, f"Class {c:05d}"))
            conn.execute(
                "insert into app.staff (id, name, email, role) values (%s, 'Teacher', %s, 'teacher')",
                (cid, f"teacher-{cid}@school.test"),
            )
            conn.execute("insert into app.class_teachers values (%s, %s)", (cid, cid))
            ids = [str(uuid.uuid4()) for _ in range(CLASS_SIZE)]
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into app.students (id, class_id, name, email) values (%s, %s, 'Student', %s)",
                    [(s, cid, f"{s}@school.test") for s in ids],
                )
            classes[cid] = ids
        conn.execute("vacuum analyze")
        # As pg_cron keeps them: the dashboards read the class figures from the views.
        conn.execute("select analytics.refresh()")
    return classes


MARK = (
    "insert into app.attendance_records (student_id, class_id, date, period, subject, status, marked_by)"
    " select s.id, s.class_id, %s, %s, 'Maths', 'present', c.teacher_id"
    " from app.students as s join app.class_teachers as c using (class_id)"
    " where s.class_id = any(%s::uuid[])"
)


class Arrivals:
    """When each student read each kind of event after a mark, and when the mark committed."""

    KINDS = ("attendance_update", "metrics_update")

    def __init__(self) -> None:
        self.committed: dict[str, float] = {}
        self.arrived: dict[str, list[tuple[str, float]]] = {k: [] for k in self.KINDS}
        self.pending: dict[str, set[str]] = {}
        self.watch: dict[str, str] = {}

    def expect(self, key: str, students: list[str]) -> None:
        """Before sending the mark: its students' next events are its."""
        self.pending[key] = {f"{s}:{kind}" for s in students for kind in self.KINDS}
        for s in students:
            self.watch[s] = key

    def __call__(self, student: str, kind: str, data: bytes, now: float) -> None:
        key = self.watch.get(student)
        if key is None or kind not in self.arrived:
            return
        tag = f"{student}:{kind}"
        pending = self.pending.get(key)
        if pending is not None and tag in pending:
            pending.discard(tag)
            self.arrived[kind].append((key, now))

    def latencies(self, kind: str) -> list[float]:
        """Milliseconds from each mark's commit (its statement's return) to each arrival."""
        return [(now - self.committed[key]) * 1000 for key, now in self.arrived[kind]]

    def done(self) -> bool:
        return all(not p for p in self.pending.values())


def figures(report: Report, prefix: str, samples: list[float]) -> None:
    for q in (50, 95, 99):
        report.figure(f"{prefix}_p{q}_ms", percentile(samples, q))


async def notify_round_trips(url: str, count: int) -> list[float]:
    """NOTIFY -> LISTEN: from sending the NOTIFY to reading it, on two connections."""
    out = []
    received = asyncio.Event()
    async with (
        await psycopg.AsyncConnection.connect(url, autocommit=True) as listener,
        await psycopg.AsyncConnection.connect(url, autocommit=True) as sender,
    ):
        await listener.execute("listen bench")

        async def listen() -> None:
            async for _ in listener.notifies():
                received.set()

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.1)
        for _ in range(count):
            received.clear()
            started = time.perf_counter()
            await sender.execute("notify bench")
            await received.wait()
            out.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return out


async def commit_to_client(
    url: str,
    host: str,
    port: int,
    classes: dict[str, list[str]],
    tokens: dict[str, str],
    args: argparse.Namespace,
) -> tuple[Arrivals, list[float]]:
    chosen = list(classes)[: -(-args.connected // CLASS_SIZE)]
    students = [s for c in chosen for s in classes[c]]
    arrivals = Arrivals()
    clients = await open_streams(host, port, students, tokens, arrivals)
    console.print(f"commit -> client: {len(clients)} streams open")
    day = dt.date(2026, 1, 5)
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for i in range(args.marks):
                cid = chosen[i % len(chosen)]
                date = day + dt.timedelta(days=i // len(chosen) // 12)
                period = i // len(chosen) % 12 + 1
                key = f"{cid}:{date}:{period}"
                started = time.perf_counter()
                arrivals.expect(key, classes[cid])
                await conn.execute(MARK, (date, period, [cid]))
                arrivals.committed[key] = time.perf_counter()
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - started)))
        console.print("commit -> client: marks sent")
        deadline = time.monotonic() + 30
        while not arrivals.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        console.print(f"commit -> client: delivered {arrivals.done()}")
        notify = await notify_round_trips(url, args.marks)
    finally:
        await close_streams(clients)
    return arrivals, notify


async def broadcast(
    url: str,
    host: str,
    port: int,
    classes: dict[str, list[str]],
    tokens: dict[str, str],
    args: argparse.Namespace,
) -> tuple[Arrivals, list[float]]:
    chosen = list(classes)[: -(-args.broadcast // CLASS_SIZE)]
    students = [s for c in chosen for s in classes[c]]
    arrivals = Arrivals()
    clients = await open_streams(host, port, students, tokens, arrivals)
    console.print(f"broadcast: {len(clients)} streams open")
    statement_ms = []
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for r in range(args.broadcast_rounds):
                started = time.perf_counter()
                arrivals.expect(f"broadcast:{r}", students)
                await conn.execute(MARK, (dt.date(2026, 6, 1), r + 1, chosen))
                arrivals.committed[f"broadcast:{r}"] = time.perf_counter()
                statement_ms.append((time.perf_counter() - started) * 1000)
                deadline = time.monotonic() + 60
                while not arrivals.done() and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)
    finally:
        await close_streams(clients)
    return arrivals, statement_ms


async def idle_memory(
    host: str, port: int, pid: int, students: list[str], tokens: dict[str, str], levels: list[int]
) -> dict[int, tuple[float, float]]:
    """RSS of the worker at each level of idle streams: (KiB per stream, KiB above idle per stream)."""
    proc = psutil.Process(pid)
    await asyncio.sleep(1)
    idle = proc.memory_info().rss
    out: dict[int, tuple[float, float]] = {0: (idle / 1024, 0.0)}
    clients: list[Client] = []
    try:
        for level in levels:
            clients += await open_streams(host, port, students[len(clients) : level], tokens, None)
            await asyncio.sleep(2)
            rss = proc.memory_info().rss
            out[level] = (rss / 1024 / level, (rss - idle) / 1024 / level)
            console.print(f"idle streams: {level}, worker RSS {rss / 2**20:.1f} MiB")
    finally:
        await close_streams(clients)
    return out


async def baseline_memory(app: str, streams: int, env: dict[str, str]) -> float:
    """KiB per idle stream above the idle worker for a baseline app (bench/stream_apps.py)."""
    with hypercorn(app, env) as (url, server):
        host, port = url.removeprefix("http://").split(":")
        proc = psutil.Process(worker_pid(server))
        await asyncio.sleep(1)
        idle = proc.memory_info().rss
        students = [f"baseline-{i}" for i in range(streams)]
        clients = await open_streams(host, int(port), students, dict.fromkeys(students, "none"), None)
        await asyncio.sleep(2)
        rss = proc.memory_info().rss
        await close_streams(clients)
    return (rss - idle) / 1024 / streams


async def marking_throughput(url: str, classes: list[str], writers: int, duration: float, run: int) -> float:
    """Statements a second with `writers` connections, each marking its own class, a new date
    each time (each run and writer has 1,000 days of its own)."""
    count = 0
    stop = time.perf_counter() + duration

    async def writer(cid: str, n: int) -> None:
        nonlocal count
        day = dt.date(2030, 1, 1) + dt.timedelta(days=(run * len(classes) + n) * 1000)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            i = 0
            while time.perf_counter() < stop:
                await conn.execute(MARK, (day + dt.timedelta(days=i // 12), i % 12 + 1, [cid]))
                i += 1
                count += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(cid, n) for n, cid in enumerate(classes[:writers])))
    return count / (time.perf_counter() - started)


def set_event_triggers(url: str, enabled: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for trigger in EVENT_TRIGGERS:
            conn.execute(
                f"alter table app.attendance_records {'enable' if enabled else 'disable'} trigger {trigger}"
            )


@contextlib.contextmanager
def many_files() -> Iterator[None]:
    """Ten thousand streams need as many sockets here and in the server (which inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connected", type=int, default=1000)
    parser.add_argument("--marks", type=int, default=300, help="marking statements while connected")
    parser.add_argument("--rate", type=float, default=20.0, help="marking statements a second")
    parser.add_argument("--broadcast", type=int, default=5000)
    parser.add_argument("--broadcast-rounds", type=int, default=5)
    parser.add_argument("--idle", default="1000,5000,10000")
    parser.add_argument("--writers", default="1,16,64")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    idle_levels = [int(n) for n in args.idle.split(",") if n]
    writer_counts = [int(n) for n in args.writers.split(",") if n]
    students_needed = max(
        [args.connected, args.broadcast, *idle_levels, *(w * CLASS_SIZE for w in writer_counts)]
    )

    secret = secrets.token_urlsafe(32)
    report = Report("live", machine({k: v for k, v in vars(args).items() if k != "json"}))
    with (
        many_files(),
        temp_cluster(extra_conf={"max_connections": "300"}) as pg,
        tempfile.TemporaryDirectory() as rd,
    ):
        redis = EmbeddedRedis(Path(rd), free_port(), secrets.token_urlsafe(12), maxmemory="512mb")
        redis.start()
        try:
            migrate(pg.url(), log=lambda _: None)
            console.print(f"building {students_needed} students")
            classes = build_school(pg.url(), students_needed)
            students = [s for ids in classes.values() for s in ids]
            tokens = {s: mint(secret, s, ttl_seconds=7200) for s in students}
            edge_password = secrets.token_urlsafe(12)
            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute(
                    psycopg.sql.SQL("alter role authenticator password {}").format(
                        psycopg.sql.Literal(edge_password)
                    )
                )
            env = {
                "EDGE_DATABASE_URL": pg.url(user="authenticator", password=edge_password),
                "REDIS_URL": redis.url(),
                "JWT_SECRET": secret,
                "RATE_LIMITS": json.dumps({"sse_connections": [1_000_000_000, 60]}),
            }
            with hypercorn(SERVED_APP, env) as (url, server):
                host, port = url.removeprefix("http://").split(":")
                pid = worker_pid(server)
                idle = asyncio.run(idle_memory(host, int(port), pid, students, tokens, idle_levels))
                baselines = {
                    name: asyncio.run(baseline_memory(f"bench.stream_apps:{name}", max(idle_levels), {}))
                    for name in ("quart_app", "asgi_app")
                    if idle_levels
                }
                arrivals, notify = asyncio.run(
                    commit_to_client(pg.url(), host, int(port), classes, tokens, args)
                )
                wide, statement_ms = asyncio.run(broadcast(pg.url(), host, int(port), classes, tokens, args))
                throughput: dict[tuple[int, bool], list[float]] = {}
                runs = 0
                for _ in range(args.rounds):
                    for writers in writer_counts:
                        for enabled in (False, True):
                            set_event_triggers(pg.url(), enabled)
                            rate = asyncio.run(
                                marking_throughput(pg.url(), list(classes)[:64], writers, args.duration, runs)
                            )
                            runs += 1
                            throughput.setdefault((writers, enabled), []).append(rate)
                            console.print(
                                f"{writers} writers, outbox {'on' if enabled else 'off'}: {rate:.0f}/s"
                            )
                set_event_triggers(pg.url(), True)
        finally:
            redis.stop()

    figures(report, "commit_to_attendance_update", arrivals.latencies("attendance_update"))
    figures(report, "commit_to_metrics_update", arrivals.latencies("metrics_update"))
    figures(report, "notify_listen_baseline", notify)
    report.figure("commit_to_client_samples", len(arrivals.latencies("attendance_update")))
    figures(report, "broadcast_attendance_update", wide.latencies("attendance_update"))
    figures(report, "broadcast_metrics_update", wide.latencies("metrics_update"))
    report.figure("broadcast_samples", len(wide.latencies("attendance_update")))
    report.figure("broadcast_statement_median_ms", statistics.median(statement_ms))
    report.figure("idle_worker_rss_kib", idle[0][0])
    for level in idle_levels:
        report.figure(f"idle_{level}_kib_per_stream", idle[level][0])
        report.figure(f"idle_{level}_kib_per_stream_above_idle", idle[level][1])
    for name, kib in baselines.items():
        report.figure(f"idle_{max(idle_levels)}_{name}_baseline_kib_per_stream_above_idle", kib)
    for writers in writer_counts:
        off = max(throughput[(writers, False)])
        on = max(throughput[(writers, True)])
        report.figure(f"marking_{writers}_writers_without_outbox_per_s", off)
        report.figure(f"marking_{writers}_writers_with_outbox_per_s", on)
        report.figure(f"marking_{writers}_writers_ratio", on / off)
    report.target(
        "commit -> attendance_update p99 ms",
        percentile(arrivals.latencies("attendance_update"), 99),
        "<=",
        50,
    )
    report.target(
        "broadcast to 5,000: p99 ms", percentile(wide.latencies("attendance_update"), 99), "<=", 250
    )
    if idle_levels:
        top = max(idle_levels)
        report.target(f"KiB per idle stream at {top}", idle[top][0], "<=", 30)
    if 16 in writer_counts:
        ratio = max(throughput[(16, True)]) / max(throughput[(16, False)])
        report.target("marking throughput with/without outbox, 16 writers", ratio, ">=", 0.85)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
