"""The rate limits: one table of buckets, the decision a check returns, and the per-process
window that stands in while Redis is away. The check itself is edge.gate."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass

# The seed's limits (P16-P20): requests per window in seconds, per user (per IP when anonymous).
# A new bucket is one line here; RATE_LIMITS overrides any of them.
BUCKETS: dict[str, tuple[int, int]] = {
    "student_reads": (100, 60),
    "student_writes": (30, 60),
    "export": (5, 3600),
    "upload": (10, 3600),
    "sse_connections": (10, 60),
    "sse_tickets": (10, 60),
    "staff_reads": (300, 60),
    "staff_writes": (60, 60),
    "admin": (60, 60),
    "anonymous": (30, 60),
    # Signed file downloads carry no token: counted per IP.
    "download": (120, 60),
}


@dataclass(frozen=True)
class Limit:
    bucket: str
    requests: int
    window_s: int


def limits(overrides: dict[str, tuple[int, int]] | None = None) -> dict[str, Limit]:
    table = {**BUCKETS, **(overrides or {})}
    return {name: Limit(name, req, win) for name, (req, win) in table.items()}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at_s: float
    retry_after_s: int
    first_violation: bool

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(-(-self.reset_at_s // 1))),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


class LocalLimiter:
    """The same sliding window in process memory: used only while Redis is unreachable."""

    def __init__(self) -> None:
        self._log: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._violated: dict[tuple[str, str], float] = {}

    def check(self, limit: Limit, identity: str) -> Decision:
        now = time.time()
        key = (limit.bucket, identity)
        log = self._log[key]
        while log and log[0] <= now - limit.window_s:
            log.popleft()
        allowed = len(log) < limit.requests
        if allowed:
            log.append(now)
        reset = (log[0] if log else now) + limit.window_s
        first = False
        if not allowed and self._violated.get(key, 0) < now:
            self._violated[key] = reset
            first = True
        return Decision(
            allowed=allowed,
            limit=limit.requests,
            remaining=max(limit.requests - len(log), 0),
            reset_at_s=reset,
            retry_after_s=0 if allowed else max(int(-(-(reset - now) // 1)), 1),
            first_violation=first,
        )

    def reset(self, identity: str) -> None:
        for key in [k for k in self._log if k[1] == identity]:
            del self._log[key]
        for key in [k for k in self._violated if k[1] == identity]:
            del self._violated[key]
