"""The thin Quart edge: authentication, limits, caching and HTTP shape over the `api` schema."""

from edge.app import create_app

__all__ = ["create_app"]
