"""/healthz and /readyz against the real Postgres and Redis of the test session."""

from __future__ import annotations

from db.services import free_port
from edge import create_app
from edge.settings import EdgeSettings


def settings(db_url: str, redis_url: str) -> EdgeSettings:
    return EdgeSettings(
        database_url=db_url, redis_url=redis_url, jwt_secret=None, db_pool_min=1, db_pool_max=2
    )


async def test_healthz_answers_without_dependencies() -> None:
    app = create_app(settings("postgresql://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0"))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/healthz")
        assert response.status_code == 200
        assert await response.get_json() == {"status": "ok"}


async def test_readyz_reports_both_dependencies_ready(db_url: str, redis_url: str) -> None:
    app = create_app(settings(db_url, redis_url))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        body = await response.get_json()
        assert response.status_code == 200, body
        assert body["status"] == "ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["redis"]["ok"] is True


async def test_readyz_names_what_is_unreachable(db_url: str) -> None:
    app = create_app(settings(db_url, f"redis://127.0.0.1:{free_port()}/0"))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        body = await response.get_json()
        assert response.status_code == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["redis"]["ok"] is False
