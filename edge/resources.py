"""Resource monitor: above 80 % CPU or 85 % memory, non-critical features switch off (P47)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
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

    async def start(
        self, on_tick: Callable[[], Awaitable[object]] | None = None, every_s: float = 30.0
    ) -> None:
        """Sample every interval; also run `on_tick` (pool health checks) every `every_s`."""
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; prime it

        async def loop() -> None:
            since_tick = 0.0
            while True:
                await asyncio.sleep(self.interval_s)
                self.sample()
                since_tick += self.interval_s
                if on_tick is not None and since_tick >= every_s:
                    since_tick = 0.0
                    with contextlib.suppress(Exception):
                        await on_tick()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
