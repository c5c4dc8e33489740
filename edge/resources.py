"""Resource monitor: above 80 % CPU or 85 % memory, non-critical features switch off (P47)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import psutil

# What is switched off under pressure; the dashboard itself never is.
NON_CRITICAL = ("exports", "ranking_refresh")


@dataclass
class ResourceMonitor:
    cpu_limit: float
    memory_limit: float
    interval_s: float
    cpu_percent: float = 0.0
    memory_percent: float = 0.0
    degraded: set[str] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None

    def sample(self, cpu: float | None = None, memory: float | None = None) -> None:
        self.cpu_percent = psutil.cpu_percent(interval=None) if cpu is None else cpu
        self.memory_percent = psutil.virtual_memory().percent if memory is None else memory
        pressure = self.cpu_percent > self.cpu_limit or self.memory_percent > self.memory_limit
        self.degraded = set(NON_CRITICAL) if pressure else set()

    def enabled(self, feature: str) -> bool:
        return feature not in self.degraded

    async def start(self) -> None:
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; prime it

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.interval_s)
                self.sample()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
