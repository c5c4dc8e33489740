"""/healthz and /readyz against the real Postgres and Redis of the test session."""

from __future__ import annotations

import dataclasses

from quart.typing import TestClientProtocol as Client

from db.services import free_port
from edge import create_app
from edge.settings import EdgeSettings


async def test_healthz_answers_without_dependencies(settings: EdgeSettings) -> None:
    app = create_app(
        dataclasses.replace(
            settings, database_url="postgresql://nobody@127.0.0.1:1/none", redis_url="redis://127.0.0.1:1/0"
        )
    )
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/healthz")
        assert response.status_code == 200
        assert await response.get_json() == {"status": "ok"}
        assert response.headers["X-Request-ID"].startswith("req_")


async def test_readyz_reports_dependencies_pool_and_circuits(client: Client) -> None:
    response = await client.get("/readyz")
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["pool"]["max"] == 20
    assert body["circuits"] == {"redis": "closed"}
    assert body["degraded"] == []
    assert set(body["resources"]) == {"cpuPercent", "memoryPercent"}


async def test_readyz_without_redis_is_degraded_not_down(settings: EdgeSettings) -> None:
    app = create_app(dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        body = await response.get_json()
        assert response.status_code == 200
        assert body["status"] == "degraded"
        assert body["checks"]["redis"]["ok"] is False
        assert "cache" in body["degraded"]


async def test_readyz_without_the_database_is_not_ready(settings: EdgeSettings) -> None:
    app = create_app(dataclasses.replace(settings, database_url=f"postgresql://x@127.0.0.1:{free_port()}/x"))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        body = await response.get_json()
        assert response.status_code == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is False


async def test_metrics_are_prometheus_text(client: Client) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    text = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "edge_request_duration_seconds_bucket" in text
    assert 'edge_circuit_open{name="redis"} 0.0' in text
