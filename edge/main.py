"""The serving entry point: what hypercorn runs in a worker process.

`serve_app()` is `create_app()` plus what only a process that serves should do to itself:
log lines leave once per event-loop turn, and after startup the garbage collector leaves the
long-lived heap alone. Tests call `create_app()` and get neither.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from quart import Quart

from edge.app import create_app
from edge.observability import TurnWriter, configure_logging

# hypercorn's settings for the edge (and for anything measured beside it).
HYPERCORN_CONFIG = Path(__file__).with_name("hypercorn.toml")
SERVED_APP = "edge.main:serve_app()"

# Allocations between young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def hypercorn_command(bind: str, app: str = SERVED_APP, *options: str) -> list[str]:
    """The command that serves `app` on `bind` (host:port) with the project's hypercorn settings."""
    return [
        sys.executable,
        "-m",
        "hypercorn",
        "--config",
        str(HYPERCORN_CONFIG),
        "--bind",
        bind,
        *options,
        app,
    ]


def serve_app() -> Quart:
    app = create_app()
    configure_logging(app.config["SETTINGS"].debug, TurnWriter())
    # Registered after create_app's own startup hook, so it runs once everything is built.
    app.before_serving(tune_garbage_collector)
    return app


async def tune_garbage_collector() -> None:
    """What startup built lives as long as the process: move it out of the collector's reach,
    and let young objects die young. Under load, requests in flight outlive the default
    700-allocation generation 0, get promoted, and trigger full collections that scan every
    long-lived object (about 100,000 here) several times a second."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
