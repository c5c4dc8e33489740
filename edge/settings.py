"""The edge's settings: one frozen object read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class EdgeSettings:
    database_url: str
    redis_url: str
    jwt_secret: str | None
    db_pool_min: int = 10
    db_pool_max: int = 50
    redis_pool_max: int = 100
    readiness_timeout_s: float = 2.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> EdgeSettings:
        env = dict(os.environ if env is None else env)
        database_url = env.get("EDGE_DATABASE_URL") or env.get("DATABASE_URL")
        if not database_url:
            raise RuntimeError("set EDGE_DATABASE_URL or DATABASE_URL (make run writes var/run.env)")
        return cls(
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or "redis://127.0.0.1:63790/0",
            jwt_secret=env.get("JWT_SECRET") or None,
            db_pool_min=int(env.get("DB_POOL_MIN", "10")),
            db_pool_max=int(env.get("DB_POOL_MAX", "50")),
        )
