"""Request ids, structured JSON logs and Prometheus metrics."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, TextIO, cast

import orjson
import structlog
import structlog.tracebacks
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from quart import g, request

CACHE_RESULTS = ("HIT", "MISS", "STALE", "BYPASS")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class UniqueIds:
    """Ids unique across processes without a system call each: a random 64-bit prefix drawn
    once per process, then a counter (uuid4 reads os.urandom on every call)."""

    def __init__(self) -> None:
        self.reseed()
        # A forked child must not repeat its parent's ids.
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"


unique_id = UniqueIds()


@dataclass(slots=True)
class RequestTrace:
    """What every log line about one request carries, gathered once when it starts."""

    request_id: str
    method: str
    path: str
    started: float
    user_id: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "user_id": self.user_id,
        }


def current_trace() -> RequestTrace:
    """This request's trace; one is made up for a request that failed before it began."""
    trace: RequestTrace | None = getattr(g, "trace", None)
    if trace is None:
        trace = g.trace = RequestTrace(request_id(None), request.method, request.path, time.perf_counter())
    return trace


def request_id(incoming: str | None) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return f"req_{unique_id()}"


class _UtcTimestamp:
    """structlog's ISO timestamp ("2026-11-22T08:15:42.123456Z"), with the part before the
    microseconds formatted once per second: datetime.isoformat() was half a log line's cost."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"
        return event


utc_timestamp = _UtcTimestamp()


def _orjson_text(event: Any, **kwargs: Any) -> str:
    return orjson.dumps(event, **kwargs).decode()


class TurnWriter:
    """Standard output for log lines, one write per event-loop turn.

    Inside a running event loop, lines are kept until the end of the loop's current turn and
    then written together: a server under load writes once for all the requests that finished
    in that turn, not once per request (a system call each, the dearest part of a log line).
    Outside a loop (commands, threads) each line is written and flushed at once. The stream is
    looked up at each write, so a redirected sys.stdout is honoured.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # A line may come from a thread (asyncio.to_thread) while the loop drains.
        self._lock = threading.Lock()
        atexit.register(self.drain)

    def write(self, line: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        if not self._lines or self._loop is not loop:
            self.drain()
            self._loop = loop
            loop.call_soon(self.drain)
        with self._lock:
            self._lines.append(line)

    def flush(self) -> None:
        """Called by structlog after every line; the turn's end does the flushing."""

    def drain(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            sys.stdout.write("".join(lines))
            sys.stdout.flush()


class LineWriter:
    """Standard output for log lines, each written and flushed at once (tests, commands). The
    stream is looked up at each write, so a redirected sys.stdout is honoured."""

    def write(self, line: str) -> None:
        sys.stdout.write(line)

    def flush(self) -> None:
        sys.stdout.flush()


# Libraries that narrate routine work at INFO: fontTools lists every table it subsets for each
# PDF export.
QUIET_LIBRARIES = ("fontTools",)


class JsonLogHandler(logging.Handler):
    """Records of standard-library loggers (psycopg's pool, hypercorn, fpdf2) as the same JSON
    lines as the edge's own, through the same writer, with the logger's name."""

    def __init__(self, output: TurnWriter | LineWriter, processors: list[Any]) -> None:
        super().__init__()
        self._output = output
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[structlog.stdlib.add_logger_name, *processors[:-1]],
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, processors[-1]],
            )
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._output.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the request that logged
            self.handleError(record)


def configure_logging(debug: bool = False, output: TurnWriter | LineWriter | None = None) -> None:
    """JSON log lines on standard output, the edge's and its libraries' alike; the serving
    process passes a TurnWriter."""
    level = logging.DEBUG if debug else logging.INFO
    writer = output or LineWriter()
    processors: list[Any] = [
        structlog.processors.add_log_level,
        utc_timestamp,
        # Stack traces without frame locals: locals hold tokens, passwords and secrets.
        structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        ),
        # orjson: a log line per request stays cheap.
        structlog.processors.JSONRenderer(serializer=_orjson_text),
    ]
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonLogHandler)]:
        root.removeHandler(handler)
    root.addHandler(JsonLogHandler(writer, processors))
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, writer)),
        cache_logger_on_first_use=True,
    )


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "edge_request_duration_seconds",
            "Request duration",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.cache = Counter(
            "edge_cache_total", "Cache lookups by result", ["result"], registry=self.registry
        )
        self.computations = Counter(
            "edge_db_computations_total",
            "Responses computed by the database",
            ["endpoint"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "edge_rate_limited_total", "Requests refused by a rate limit", ["bucket"], registry=self.registry
        )
        self.auth_failures = Counter(
            "edge_auth_failures_total", "Rejected tokens by reason", ["reason"], registry=self.registry
        )
        self.circuit_open = Gauge(
            "edge_circuit_open", "1 while a circuit breaker is open", ["name"], registry=self.registry
        )
        self._request_series: dict[tuple[str, str, int], Any] = {}
        self._cache_series = {status: self.cache.labels(status.lower()) for status in CACHE_RESULTS}
        self.degraded = Gauge(
            "edge_degraded", "1 while a feature is switched off", ["feature"], registry=self.registry
        )

    def watch_streams(self, hub: Any) -> None:
        """Open event streams: in this process, and across every process sharing Redis (P7)."""
        Gauge("edge_sse_streams", "Event streams open in this process", registry=self.registry).set_function(
            lambda: len(hub)
        )
        Gauge(
            "edge_sse_streams_everywhere",
            "Event streams open across every edge process (Redis records, as of the last heartbeat)",
            registry=self.registry,
        ).set_function(lambda: hub.active_everywhere)

    def count_cache(self, status: str) -> None:
        """One response by its X-Cache value."""
        self._cache_series[status].inc()

    def observe_request(self, method: str, endpoint: str, status: int, duration_s: float) -> None:
        """One request's duration. Methods outside HTTP's own are counted as OTHER, so clients
        cannot create series at will; each series' child is looked up once."""
        if method not in HTTP_METHODS:
            method = "OTHER"
        key = (method, endpoint, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = self.requests.labels(method, endpoint, str(status))
        series.observe(duration_s)
