"""Rate limits: P16 and P18 on the dashboard, only allowed requests counted, the first violation
audited (P20), every bucket of the table through the limiter itself, and admin resets."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from typing import Any

import psycopg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from db.seed import SeedResult
from edge import create_app
from edge.ratelimit import BUCKETS
from edge.settings import EdgeSettings, SettingsError
from tests.edge.conftest import bearer

DASHBOARD = "/api/students/dashboard"


def violations(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute(
        "select user_id, metadata ->> 'bucket', (metadata ->> 'limit')::int,"
        " (metadata ->> 'windowSeconds')::int, metadata ->> 'endpoint'"
        " from audit.audit_logs where action = 'rate_limit_exceeded'"
    ).fetchall()


async def test_the_101st_dashboard_request_in_a_minute_is_refused(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    headers = bearer(school.demo_student_id)
    for i in range(100):
        response = await client.get(DASHBOARD, headers=headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == str(99 - i)
    refused = await client.get(DASHBOARD, headers=headers)
    body = await refused.get_json()
    assert refused.status_code == 429
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < body["error"]["retryAfter"] <= 60
    assert refused.headers["Retry-After"] == str(body["error"]["retryAfter"])
    assert refused.headers["X-RateLimit-Limit"] == "100"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    for _ in range(5):
        assert (await client.get(DASHBOARD, headers=headers)).status_code == 429
    assert violations(db) == [(school.demo_student_id, "student_reads", 100, 60, DASHBOARD)], "audited once"


async def test_only_allowed_requests_are_counted(settings: EdgeSettings, school: SeedResult) -> None:
    app = create_app(dataclasses.replace(settings, rate_limits={"student_reads": (3, 1)}))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        headers = bearer(school.demo_student_id)
        first = [(await client.get(DASHBOARD, headers=headers)).status_code for _ in range(8)]
        assert first == [200, 200, 200, 429, 429, 429, 429, 429]
        await asyncio.sleep(1.1)  # the window itself is what is under test
        again = [(await client.get(DASHBOARD, headers=headers)).status_code for _ in range(4)]
        assert again == [200, 200, 200, 429], "refused requests did not extend the window"


@pytest.mark.parametrize("bucket", sorted(BUCKETS))
async def test_every_bucket_allows_exactly_its_limit(app: Quart, bucket: str) -> None:
    """The 6th export, the 11th upload, the 11th SSE connection or ticket, the 101st read...: refused."""
    gate = app.extensions["edge"].gate
    limit = gate.limits[bucket]
    identity = str(uuid.uuid4())
    admissions = [await gate.admit(bucket, identity) for _ in range(limit.requests + 1)]
    assert [a.decision.allowed for a in admissions] == [True] * limit.requests + [False]
    assert admissions[-1].decision.retry_after_s > 0
    other = await gate.admit(bucket, str(uuid.uuid4()))
    assert other.decision.allowed, "limits are per user"


async def test_an_admin_resets_a_users_limits(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    headers = bearer(school.demo_student_id)
    for _ in range(100):
        await client.get(DASHBOARD, headers=headers)
    assert (await client.get(DASHBOARD, headers=headers)).status_code == 429

    student_try = await client.delete(f"/api/admin/rate-limits/{school.demo_student_id}", headers=headers)
    assert student_try.status_code == 403
    teacher_try = await client.delete(
        f"/api/admin/rate-limits/{school.demo_student_id}", headers=bearer(school.demo_teacher_id)
    )
    assert teacher_try.status_code == 403

    reset = await client.delete(
        f"/api/admin/rate-limits/{school.demo_student_id}", headers=bearer(school.admin_id)
    )
    assert reset.status_code == 200, await reset.get_json()
    assert (await client.get(DASHBOARD, headers=headers)).status_code == 200
    assert db.execute(
        "select count(*) from audit.audit_logs where action = 'rate_limit_reset' and resource_id = %s",
        (str(school.demo_student_id),),
    ).fetchone() == (1,)


async def test_anonymous_failures_are_limited_per_ip(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    app = create_app(dataclasses.replace(settings, rate_limits={"anonymous": (3, 60)}))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        codes = [(await client.get(DASHBOARD)).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    row = db.execute("select count(*) from audit.audit_logs where action = 'login_failure'").fetchone()
    assert row == (3,), "refused attempts write no login_failure entries: the log cannot be flooded"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"sse": [10, 60]}', "unknown buckets ['sse']"),
        ('{"student_reads": [0, 60]}', "at least 1"),
        ('{"student_reads": 5}', "must map bucket names"),
        ("not json", "must map bucket names"),
    ],
)
def test_rate_limit_overrides_name_known_buckets_and_sane_numbers(raw: str, message: str) -> None:
    env = {"DATABASE_URL": "postgresql://x@127.0.0.1/x", "JWT_SECRET": "s" * 32, "RATE_LIMITS": raw}
    with pytest.raises(SettingsError, match=re.escape(message)):
        EdgeSettings.from_env(env)
    env["RATE_LIMITS"] = '{"export": [2, 60]}'
    assert EdgeSettings.from_env(env).rate_limits == {"export": (2, 60)}
