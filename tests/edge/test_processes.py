"""Claims that need real hypercorn processes: limits shared across processes (P19), and the
refusal of oversized request heads under the project's hypercorn configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from db.seed import SeedResult
from edge.settings import EdgeSettings
from tests.edge.conftest import bearer, served_edges


@pytest.fixture
def two_edges(settings: EdgeSettings, school: SeedResult) -> Iterator[list[str]]:
    with served_edges(settings, count=2) as urls:
        yield urls


@pytest.mark.slow
async def test_two_processes_share_the_limit_and_answer_oversized_heads_themselves(
    two_edges: list[str], school: SeedResult
) -> None:
    headers = bearer(school.demo_student_id)
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        requests = [
            client.get(f"{two_edges[i % 2]}/api/students/dashboard", headers=headers) for i in range(160)
        ]
        responses = await asyncio.gather(*requests)
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 100, "exactly the limit, across both processes"
    assert codes.count(429) == 60
    served_by = {two_edges[i % 2] for i, r in enumerate(responses) if r.status_code == 200}
    assert served_by == set(two_edges), "both processes answered"
    await check_request_heads_on_a_real_server(two_edges[0], school)


async def check_request_heads_on_a_real_server(url: str, school: SeedResult) -> None:
    """Under hypercorn with edge/hypercorn.toml the app, not the server, answers an oversized
    head, so the answer is the ErrorResponse; only heads past hypercorn's larger limit get the
    server's bare refusal, and never a 5xx."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(
            f"{url}/healthz", headers={**bearer(school.demo_student_id), "X-Padding": "a" * 20_000}
        )
        assert response.status_code == 431
        assert response.json()["error"]["code"] == "HEADERS_TOO_LARGE"
        assert response.headers["X-Request-ID"] == response.json()["error"]["requestId"]
        beyond = await client.get(f"{url}/healthz", headers={"X-Padding": "a" * 100_000})
        assert 400 <= beyond.status_code < 500
