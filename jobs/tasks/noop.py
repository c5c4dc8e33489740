"""A task that does nothing: what the worker itself costs (benchmarks and tests)."""

from __future__ import annotations

from jobs.tasks import DONE, Job, Outcome, Task


class Noop(Task):
    def __init__(self) -> None:
        super().__init__(name="noop")

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        for job in jobs:
            job.started = True
        return [DONE] * len(jobs)
