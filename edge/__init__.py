"""The thin Quart edge: authentication, limits, caching and HTTP shape over the `api` schema.
`create_app()` builds the app; edge.main serves it."""

from edge.app import create_app

__all__ = ["create_app"]
