"""Claims that need real hypercorn processes: limits shared across processes (P19)."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from db.seed import SeedResult
from db.services import free_port
from edge.settings import EdgeSettings
from tests.db.helpers import wait_for
from tests.edge.conftest import SECRET, bearer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_edges(settings: EdgeSettings, school: SeedResult) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "EDGE_DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": SECRET,
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "5",
    }
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hypercorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--worker-class",
                    "uvloop",
                    "edge:create_app()",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")

    def healthy(url: str) -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        for url in urls:
            wait_for(functools.partial(healthy, url), 30, f"hypercorn at {url}")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.mark.slow
async def test_two_processes_sharing_redis_let_exactly_the_limit_through(
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
