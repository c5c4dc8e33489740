"""What a task is: it takes the jobs of one round and says, for each, whether it is done, should
be retried later, or is dead. One module per task; TASKS names them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import structlog

log = structlog.get_logger("jobs")

Verdict = Literal["done", "retry", "dead", "released"]


@dataclass
class Job:
    queue: str
    msg_id: int
    read_ct: int
    task: str
    payload: dict[str, Any]
    started: bool = False


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str | None = None


DONE = Outcome("done")
# Never started (the worker is stopping): visible again at once, not an attempt.
RELEASED = Outcome("released")


@dataclass
class Task:
    """The default runs `handle` for each job, at most `concurrency` at a time. A task that can
    do a whole batch at once overrides `run`."""

    name: str
    concurrency: int = 1
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(job: Job) -> Outcome:
            async with gate:
                if self.stopping.is_set():
                    return RELEASED
                job.started = True
                try:
                    return await self.handle(job)
                except Exception as exc:  # noqa: BLE001 - one job's bug must not stop the others
                    log.exception("jobs.task_failed", task=self.name, msg_id=job.msg_id)
                    return Outcome("retry", f"{type(exc).__name__}: {exc}")

        return list(await asyncio.gather(*(one(j) for j in jobs)))

    async def handle(self, job: Job) -> Outcome:
        raise NotImplementedError

    async def on_retry(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        """In the transaction that makes the job visible again later."""

    async def on_dead(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        """In the transaction that moves the job to jobs_dead."""

    async def close(self) -> None:
        """Release what the task holds (connections)."""


TaskFactory = Callable[[], Awaitable[Task]]
