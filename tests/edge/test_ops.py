"""/healthz and /readyz against the real Postgres and Redis of the test session."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import tempfile
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import Redis

from db.cluster import free_port
from db.seed import SeedResult
from edge import create_app
from edge.settings import EdgeSettings
from stack.redis_server import EmbeddedRedis
from tests.edge.conftest import bearer


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


async def test_clients_cannot_invent_metric_series(client: Client) -> None:
    """Any token is a valid HTTP method to the server; the metrics count unknown ones as OTHER."""
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        # The protocol in quart.typing marks `json` as required; the client itself does not.
        assert (await client.open("/healthz", method=method, json=None)).status_code == 405
    await client.get("/healthz")
    text = await (await client.get("/metrics")).get_data(as_text=True)
    assert 'method="OTHER",status="405"' in text
    assert 'method="GET",status="200"' in text
    assert "BREW" not in text and "PROPFIND" not in text and "X-ANYTHING" not in text


async def test_resource_pressure_switches_off_non_critical_features(app: Quart, client: Client) -> None:
    monitor = app.extensions["edge"].resources
    monitor.sample(cpu=95.0, memory=40.0)
    body = await (await client.get("/readyz")).get_json()
    assert {"exports", "ranking_refresh"} <= set(body["degraded"])
    assert body["resources"]["cpuPercent"] == 95.0
    monitor.sample(cpu=10.0, memory=90.0)
    assert not monitor.enabled("exports"), "memory above 85 % counts too"
    monitor.sample(cpu=10.0, memory=40.0)
    body = await (await client.get("/readyz")).get_json()
    assert body["degraded"] == []


async def test_openapi_documents_every_endpoint_and_the_error_shape(app: Quart, client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/files/")) or rule.rule in ("/healthz", "/readyz"):
            # A converter's name (<file_id:id>) is not part of the documented path.
            path = re.sub(r"<(?:[^:>]*:)?([^>]+)>", r"{\1}", rule.rule)
            assert path in documented, path
    assert "ErrorBody" in spec["components"]["schemas"]
    unauthorized = spec["paths"]["/api/students/dashboard"]["get"]["responses"]["401"]
    assert unauthorized["content"]["application/json"]["schema"]["title"] == "ErrorResponse"
    weekly = spec["paths"]["/api/students/attendance/weekly"]["get"]
    assert any(p["name"] == "week" for p in weekly["parameters"])
    assert (await client.get("/docs")).status_code == 200


async def test_startup_warns_when_redis_may_evict_nothing(
    settings: EdgeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        server = EmbeddedRedis(Path(workdir), free_port(), secrets.token_urlsafe(8))
        server.start()
        try:
            Redis.from_url(server.url()).config_set("maxmemory-policy", "noeviction")
            app = create_app(dataclasses.replace(settings, redis_url=server.url()))
            async with app.test_app():
                pass
        finally:
            server.stop()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line["event"] == "redis_eviction_policy"]
    assert warnings and warnings[0]["policy"] == "noeviction" and warnings[0]["level"] == "warning"


async def test_every_request_is_logged_as_one_json_line_with_its_context(
    client: Client, school: SeedResult, capsys: pytest.CaptureFixture[str]
) -> None:
    """P42: request id, user id, method, path, status and duration on each request's line."""
    response = await client.get(
        "/api/students/dashboard", headers={**bearer(school.demo_student_id), "X-Request-ID": "trace-42"}
    )
    assert response.headers["X-Request-ID"] == "trace-42"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [entry] = [line for line in lines if line["event"] == "request" and line["request_id"] == "trace-42"]
    assert entry["user_id"] == str(school.demo_student_id)
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/api/students/dashboard", 200)
    assert entry["level"] == "info" and isinstance(entry["duration_ms"], float) and entry["duration_ms"] > 0
    assert entry["timestamp"].endswith("Z")


def test_views_are_served_by_quarts_own_make_response(app: Quart) -> None:
    """quart-schema documents the API; its response conversion is not in the way of responses."""
    assert "make_response" not in vars(app)
    assert "QUART_SCHEMA" in app.extensions
