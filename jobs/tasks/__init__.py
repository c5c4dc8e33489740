"""What a task is: it takes its jobs of one round and says, for each, whether it is done, should
be retried later, is dead, or was released unstarted. One module per task."""

from __future__ import annotations

import asyncio
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
    """A task marks each job it starts (`started`), and once `stopping` is set starts no more:
    those it returns as RELEASED. An exception for one job is that job's retry, not the round's."""

    name: str
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        """One outcome per job, in order."""
        raise NotImplementedError

    async def on_retry(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        """In the transaction that makes the job visible again later."""

    async def on_dead(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        """In the transaction that moves the job to jobs_dead."""

    async def close(self) -> None:
        """Release what the task holds (connections)."""
