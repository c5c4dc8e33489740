"""The thin Quart edge: authentication, limits, caching and HTTP shape over the `api` schema."""

import sys
from pathlib import Path

from edge.app import create_app

# hypercorn's settings for the edge (and for anything measured beside it).
HYPERCORN_CONFIG = Path(__file__).with_name("hypercorn.toml")


def hypercorn_command(bind: str, app: str = "edge:create_app()", *options: str) -> list[str]:
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


__all__ = ["HYPERCORN_CONFIG", "create_app", "hypercorn_command"]
