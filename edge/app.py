"""The Quart application factory."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from quart import Quart
from redis.asyncio import BlockingConnectionPool, Redis

from edge.blueprints.ops import ops
from edge.settings import EdgeSettings


def create_app(settings: EdgeSettings | None = None) -> Quart:
    app = Quart(__name__)
    app.config["SETTINGS"] = settings or EdgeSettings.from_env()
    app.register_blueprint(ops)

    @app.before_serving
    async def open_pools() -> None:
        conf: EdgeSettings = app.config["SETTINGS"]
        pool = AsyncConnectionPool(
            conf.database_url,
            min_size=conf.db_pool_min,
            max_size=conf.db_pool_max,
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="edge",
        )
        # Do not wait: the edge serves /healthz and an honest /readyz while Postgres is away.
        await pool.open(wait=False)
        app.extensions["db_pool"] = pool
        redis_pool = BlockingConnectionPool.from_url(
            conf.redis_url, max_connections=conf.redis_pool_max, timeout=conf.readiness_timeout_s
        )
        app.extensions["redis"] = Redis(connection_pool=redis_pool)

    @app.after_serving
    async def close_pools() -> None:
        await app.extensions["db_pool"].close()
        await app.extensions["redis"].aclose(close_connection_pool=True)

    return app
