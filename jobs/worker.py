"""`python -m jobs`: read the queues, run the tasks, acknowledge in batches.

Each round reads up to `batch` messages from jobs_urgent; jobs_normal and then jobs_low get
what is left of the round, and a share of it anyway once they have waited `starvation_s`
behind urgent work (urgent first, P46, without starving the rest). Finished messages are
archived in one call per queue. A failure the task calls transient is retried after an
exponential backoff by moving the message's visibility timeout; one that fails its last
attempt, a permanent failure, and a message read more often than its attempts allow (it
crashed the worker) go to jobs_dead with the error and the attempt count.

The worker wakes on pgmq's insert notifications and polls besides. SIGTERM stops the reading;
work in flight gets `drain_s` to finish; messages read but not started are made visible again
at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import time
from collections import defaultdict
from collections.abc import Iterable

import asyncpg
import structlog
from pgmq.async_queue import PGMQueue
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from jobs.logs import configure_logging
from jobs.scanning import Clamd
from jobs.settings import Settings, SettingsError
from jobs.storage import LocalStore, Store, SupabaseStore
from jobs.tasks import Job, Outcome, Task
from jobs.tasks.audit_archive import AuditArchive
from jobs.tasks.email import Email
from jobs.tasks.files import FileDelete, FileScan
from jobs.tasks.noop import Noop

QUEUES = ("jobs_urgent", "jobs_normal", "jobs_low")
# The listening connection's name in pg_stat_activity, and how often a lost one is reopened.
LISTENER = "jobs-worker-listen"
RELISTEN_S = 2.0
DEAD = "jobs_dead"

log = structlog.get_logger("jobs")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("queue", "task")
        self.processed = Counter("jobs_processed", "Messages finished", labels, registry=self.registry)
        self.retried = Counter(
            "jobs_retried", "Messages put back for a later attempt", labels, registry=self.registry
        )
        self.dead = Counter("jobs_dead", "Messages moved to jobs_dead", labels, registry=self.registry)
        self.resends = Counter(
            "jobs_email_resends",
            "Emails sent again after an attempt whose outcome was unknown",
            registry=self.registry,
        )
        self.depth = Gauge("jobs_queue_depth", "Messages in the queue", ("queue",), registry=self.registry)
        self.oldest = Gauge(
            "jobs_queue_oldest_age_seconds",
            "Age of the oldest message in the queue",
            ("queue",),
            registry=self.registry,
        )


class Worker:
    def __init__(
        self, settings: Settings, pool: asyncpg.Pool, tasks: Iterable[Task], metrics: Metrics
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.queue = PGMQueue(pool=pool, init_extension=False, vt=settings.visibility_s)
        self.tasks = {t.name: t for t in tasks}
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self.wake = asyncio.Event()
        self.waiting_since = {q: time.monotonic() for q in QUEUES}
        self.in_hand: list[Job] = []
        self.listened_at = 0.0

    # -- reading ---------------------------------------------------------------------------

    async def fetch(self) -> list[Job]:
        """One round of messages, urgent first (see the module's docstring), in one round trip."""
        now = time.monotonic()
        share = max(1, self.settings.batch // 10)
        starved = {q: now - self.waiting_since[q] >= self.settings.starvation_s for q in QUEUES}
        rows = await self.pool.fetch(
            "select queue, msg_id, read_ct, message::text from app.read_jobs($1, $2, $3, $4)",
            self.settings.visibility_s,
            self.settings.batch,
            share if starved["jobs_normal"] else 0,
            share if starved["jobs_low"] else 0,
        )
        jobs: list[Job] = []
        counts = dict.fromkeys(QUEUES, 0)
        for queue, msg_id, read_ct, raw in rows:
            counts[queue] += 1
            body = json.loads(raw)
            body = body if isinstance(body, dict) else {}
            jobs.append(Job(queue, msg_id, read_ct, str(body.get("task", "")), body))
        # What each queue was asked for, as app.read_jobs computes it; fewer means it is drained.
        room = self.settings.batch
        for queue in QUEUES:
            asked = max(room, share if queue != QUEUES[0] and starved[queue] else 0)
            if counts[queue] < asked:
                self.waiting_since[queue] = now
            room -= counts[queue]
        return jobs

    async def listen(self) -> asyncpg.Connection | None:
        """pgmq's insert notifications wake the loop; without them it polls."""
        self.listened_at = time.monotonic()
        try:
            conn = await asyncpg.connect(
                self.settings.database_url, server_settings={"application_name": LISTENER}
            )
            for queue in QUEUES:
                await conn.add_listener(f"pgmq.q_{queue}.INSERT", lambda *_: self.wake.set())
            # Losing it wakes the loop too, which opens another.
            conn.add_termination_listener(lambda *_: self.wake.set())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("jobs.listen_failed", error=str(exc))
            return None
        return conn

    async def run(self) -> None:
        listener = await self.listen()
        try:
            while not self.stopping.is_set():
                # A listening connection that died is opened again (at most every few seconds);
                # meanwhile the poll finds what its notifications would have announced.
                if (
                    listener is None or listener.is_closed()
                ) and time.monotonic() - self.listened_at > RELISTEN_S:
                    listener = await self.listen()
                self.wake.clear()
                jobs = await self.fetch()
                if not jobs:
                    await self._sleep(listening=listener is not None and not listener.is_closed())
                    continue
                await self.process(jobs)
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()

    async def _sleep(self, listening: bool) -> None:
        # Not listening: back soon, to open the connection again.
        timeout = self.settings.poll_s if listening else min(self.settings.poll_s, RELISTEN_S)
        waits = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    # -- running ---------------------------------------------------------------------------

    def _verdict_before_running(self, job: Job) -> Outcome | None:
        if job.task not in self.tasks:
            return Outcome("dead", f"unknown task {job.task!r}")
        if job.read_ct > self.settings.attempts:
            return Outcome(
                "dead",
                f"read {job.read_ct} times without finishing"
                " (it crashed the worker or outlived its visibility timeout)",
            )
        return None

    async def process(self, jobs: list[Job]) -> None:
        self.in_hand = jobs
        outcomes: dict[int, Outcome] = {}
        by_task: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            early = self._verdict_before_running(job)
            if early is not None:
                outcomes[id(job)] = early
            else:
                by_task[job.task].append(job)

        async def run_task(name: str, group: list[Job]) -> None:
            results = await self.tasks[name].run(group)
            for job, outcome in zip(group, results, strict=True):
                outcomes[id(job)] = outcome

        # Urgent jobs of each task are handed over first: the task starts them first.
        await asyncio.gather(
            *(run_task(n, sorted(g, key=lambda j: QUEUES.index(j.queue))) for n, g in by_task.items())
        )
        await self.settle([(j, outcomes[id(j)]) for j in jobs])
        self.in_hand = []

    async def settle(self, results: list[tuple[Job, Outcome]]) -> None:
        done: dict[str, list[int]] = defaultdict(list)
        released: dict[str, list[int]] = defaultdict(list)
        for job, outcome in results:
            verdict = outcome.verdict
            if verdict == "retry" and job.read_ct >= self.settings.attempts:
                outcome = Outcome(
                    "dead", f"{outcome.error} (attempt {job.read_ct} of {self.settings.attempts})"
                )
                verdict = "dead"
            if verdict == "done":
                done[job.queue].append(job.msg_id)
                self.metrics.processed.labels(job.queue, job.task).inc()
            elif verdict == "released":
                released[job.queue].append(job.msg_id)
            elif verdict == "retry":
                await self.retry(job, outcome.error or "failed")
            else:
                await self.bury(job, outcome.error or "failed")
        for queue, ids in done.items():
            await self.queue.archive_batch(queue, ids)
        for queue, ids in released.items():
            await self.queue.set_vt(queue, ids, 0)

    async def retry(self, job: Job, error: str) -> None:
        delay = self.settings.backoff_s * 2 ** (job.read_ct - 1)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
        async with self.pool.acquire() as conn, conn.transaction():
            await self.queue.set_vt(job.queue, job.msg_id, at, conn=conn)
            task = self.tasks.get(job.task)
            if task is not None:
                await task.on_retry(conn, job, error)
        self.metrics.retried.labels(job.queue, job.task).inc()
        log.info(
            "jobs.retry", queue=job.queue, msg_id=job.msg_id, task=job.task, attempt=job.read_ct, error=error
        )

    async def bury(self, job: Job, error: str) -> None:
        letter = {
            "queue": job.queue,
            "msgId": job.msg_id,
            "task": job.task,
            "message": job.payload,
            "error": error,
            "attempts": job.read_ct,
            "failedAt": dt.datetime.now(dt.UTC).isoformat(),
        }
        async with self.pool.acquire() as conn, conn.transaction():
            await self.queue.send(DEAD, letter, conn=conn)
            await self.queue.delete(job.queue, job.msg_id, conn=conn)
            task = self.tasks.get(job.task)
            if task is not None:
                await task.on_dead(conn, job, error)
        self.metrics.dead.labels(job.queue, job.task).inc()
        log.warning(
            "jobs.dead", queue=job.queue, msg_id=job.msg_id, task=job.task, attempts=job.read_ct, error=error
        )

    async def release_unstarted(self) -> None:
        """Messages read but never started go back at once (used when a drain runs out of time)."""
        by_queue: dict[str, list[int]] = defaultdict(list)
        for job in self.in_hand:
            if not job.started:
                by_queue[job.queue].append(job.msg_id)
        for queue, ids in by_queue.items():
            await self.queue.set_vt(queue, ids, 0)
        self.in_hand = []

    def stop(self) -> None:
        self.stopping.set()
        for task in self.tasks.values():
            task.stopping.set()

    async def refresh_metrics(self) -> None:
        while True:
            try:
                for m in await self.queue.metrics_all():
                    self.metrics.depth.labels(m.queue_name).set(m.queue_length)
                    self.metrics.oldest.labels(m.queue_name).set(m.oldest_msg_age_sec or 0)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("jobs.metrics_failed", error=str(exc))
            await asyncio.sleep(5)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset: the worker never changes a pooled session's settings, and asyncpg's
    default reset costs a round trip per release, as much as the statement itself."""


async def create_pool(settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=2,
        max_size=settings.smtp_connections + 4,
        reset=_keep_session,
        server_settings={"application_name": "jobs-worker"},
    )


def certificate_store(settings: Settings) -> Store:
    if settings.supabase_url and settings.supabase_service_key:
        return SupabaseStore(settings.supabase_url, settings.supabase_service_key, settings.storage_bucket)
    return LocalStore(settings.storage_dir)


async def serve(settings: Settings, extra_tasks: Iterable[Task] = ()) -> None:
    pool = await create_pool(settings)
    metrics = Metrics()
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr="127.0.0.1", registry=metrics.registry)
    email = Email(settings, pool)
    email.on_resend = metrics.resends.inc
    store = certificate_store(settings)
    clamd = Clamd(settings.clamd_url, settings.clamd_timeout_s) if settings.clamd_url else None
    tasks: list[Task] = [
        email,
        AuditArchive(settings, pool),
        FileScan(pool, store, clamd),
        FileDelete(store),
        Noop(),
        *extra_tasks,
    ]
    worker = Worker(settings, pool, tasks, metrics)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    refresher = asyncio.create_task(worker.refresh_metrics())
    runner = asyncio.create_task(worker.run())
    log.info("jobs.started", queues=QUEUES, smtp=f"{settings.smtp.host}:{settings.smtp.port}")
    try:
        stopped = asyncio.create_task(worker.stopping.wait())
        await asyncio.wait([stopped, runner], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        done, _ = await asyncio.wait([runner], timeout=settings.drain_s)
        if not done:
            log.warning("jobs.drain_timed_out", drain_s=settings.drain_s)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await worker.release_unstarted()
        elif runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
    finally:
        refresher.cancel()
        for task in tasks:
            await task.close()
        await pool.close()
        log.info("jobs.stopped")


def main(argv: list[str] | None = None) -> int:
    del argv
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"jobs: {exc}")
        return 2
    asyncio.run(serve(settings))
    return 0
