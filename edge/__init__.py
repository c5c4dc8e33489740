"""The thin Quart edge: authentication, limits, caching and HTTP shape over the `api` schema."""

from pathlib import Path

from edge.app import create_app

# hypercorn's settings for the edge: hypercorn --config <this> "edge:create_app()"
HYPERCORN_CONFIG = Path(__file__).with_name("hypercorn.toml")

__all__ = ["HYPERCORN_CONFIG", "create_app"]
