"""A circuit breaker with the seed's parameters: 5 failures within 60 s open it for 30 s; then
trial calls are let through, and 2 successes in a row close it (one failure reopens it).

Written here rather than taken from a library because the common ones (pybreaker, aiobreaker,
purgatory) count consecutive failures without a time window or close after a single success.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class CircuitBreaker:
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        success_threshold: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._window = window_s
        self._open_s = open_s
        self._successes_needed = success_threshold
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._successes = 0

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return self.CLOSED
        if self._clock() - self._opened_at < self._open_s:
            return self.OPEN
        return self.HALF_OPEN

    def retry_after_s(self) -> float:
        """How long until trial calls are let through: the rest of the open period, or a whole
        one when the breaker is not open (a failure may open it)."""
        if self._opened_at is None:
            return self._open_s
        return max(0.0, self._open_s - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go through now? False while open."""
        return self.state != self.OPEN

    def record_success(self) -> None:
        if self.state == self.HALF_OPEN:
            self._successes += 1
            if self._successes >= self._successes_needed:
                self._opened_at = None
                self._failures.clear()
                self._successes = 0

    def record_failure(self) -> None:
        now = self._clock()
        if self.state == self.HALF_OPEN:
            self._trip(now)
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self._window:
            self._failures.popleft()
        if len(self._failures) >= self._threshold:
            self._trip(now)

    def _trip(self, now: float) -> None:
        self._opened_at = now
        self._successes = 0
        self._failures.clear()
