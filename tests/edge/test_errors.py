"""Every error is the seed's ErrorResponse (P38), validation errors name their field (P41), and
no bad parameter, header or path produces a 500."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from db.seed import SeedResult
from tests.edge.conftest import bearer

ENDPOINTS = [
    "/api/students/dashboard",
    "/api/students/ranking",
    "/api/students/class-statistics",
    "/api/students/attendance/weekly",
]


async def assert_error_shape(response: Response, status: int | None = None) -> dict[str, Any]:
    body = await response.get_json()
    if status is not None:
        assert response.status_code == status, body
    else:
        assert response.status_code != 500, body
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and re.fullmatch(r"[A-Z_]+", error["code"])
    assert isinstance(error["message"], str) and error["message"]
    assert error["requestId"] == response.headers["X-Request-ID"]
    dt.datetime.fromisoformat(error["timestamp"].replace("Z", "+00:00"))
    assert "details" not in error, "no internals outside debug mode"
    return error


async def test_unknown_route_and_method(client: Client) -> None:
    assert (await assert_error_shape(await client.get("/api/nothing/here"), 404))["code"] == "NOT_FOUND"
    error = await assert_error_shape(await client.post("/api/students/dashboard"), 405)
    assert error["code"] == "METHOD_NOT_ALLOWED"


async def test_unknown_query_parameter_is_named(client: Client, school: SeedResult) -> None:
    response = await client.get("/api/students/dashboard?studentId=x", headers=bearer(school.demo_student_id))
    error = await assert_error_shape(response, 400)
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "studentId"


async def test_weeks_are_validated_by_field(client: Client, school: SeedResult) -> None:
    headers = bearer(school.demo_student_id)
    for week, message in (("2026-7", "week"), ("", "week"), ("2025-W53", "does not exist")):
        response = await client.get(f"/api/students/attendance/weekly?week={week}", headers=headers)
        error = await assert_error_shape(response, 400)
        assert error["field"] == "week" and message in error["message"], error
    missing = await client.get("/api/students/attendance/weekly", headers=headers)
    assert (await assert_error_shape(missing, 400))["field"] == "week"


async def test_class_ids_and_access(client: Client, school: SeedResult) -> None:
    teacher = bearer(school.demo_teacher_id)
    bad = await client.get("/api/classes/not-a-uuid/statistics", headers=teacher)
    assert (await assert_error_shape(bad, 400))["field"] == "id"
    unknown = await client.get(f"/api/classes/{uuid.uuid4()}/statistics", headers=teacher)
    assert (await assert_error_shape(unknown, 404))["code"] == "NOT_FOUND"
    student = await client.get(
        f"/api/classes/{uuid.uuid4()}/rankings", headers=bearer(school.demo_student_id)
    )
    assert (await assert_error_shape(student, 403))["code"] == "PERMISSION_ERROR"
    mine = await client.get("/api/students/dashboard", headers=bearer(school.demo_student_id))
    class_id = (await mine.get_json())["classId"]
    ok = await client.get(f"/api/classes/{class_id}/statistics", headers=teacher)
    assert ok.status_code == 200, await ok.get_json()
    assert (
        await client.get(f"/api/classes/{class_id}/statistics", headers=bearer(school.admin_id))
    ).status_code == 200


async def test_teachers_have_no_student_dashboard(client: Client, school: SeedResult) -> None:
    response = await client.get("/api/students/dashboard", headers=bearer(school.demo_teacher_id))
    assert (await assert_error_shape(response, 403))["code"] == "PERMISSION_ERROR"


async def test_admin_audit_filters_are_validated(client: Client, school: SeedResult) -> None:
    admin = bearer(school.admin_id)
    response = await client.get("/api/admin/audit?limit=0", headers=admin)
    assert (await assert_error_shape(response, 400))["field"] == "limit"
    response = await client.get("/api/admin/audit?from=yesterday", headers=admin)
    assert (await assert_error_shape(response, 400))["field"] == "from"
    response = await client.get("/api/admin/audit?action=login_failure&limit=5", headers=admin)
    assert response.status_code == 200
    assert set(await response.get_json()) == {"entries", "total", "limit", "offset", "archived"}
    refused = await client.get("/api/admin/audit", headers=bearer(school.demo_student_id))
    assert (await assert_error_shape(refused, 403))["code"] == "PERMISSION_ERROR"


param_names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
param_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    params=st.dictionaries(param_names, param_values, max_size=3),
    authorization=st.one_of(st.none(), st.just("good"), st.text(max_size=60)),
    request_id=st.one_of(st.none(), st.text(max_size=200)),
)
async def test_no_bad_request_is_a_server_error(
    client: Client,
    school: SeedResult,
    endpoint: str,
    params: dict[str, str],
    authorization: str | None,
    request_id: str | None,
) -> None:
    headers: dict[str, str] = {}
    if authorization == "good":
        headers.update(bearer(school.demo_student_id))
    elif authorization is not None and authorization.isprintable() and authorization.isascii():
        headers["Authorization"] = authorization
    if request_id is not None and request_id.isprintable() and request_id.isascii():
        headers["X-Request-ID"] = request_id
    response = await client.get(endpoint, query_string=params, headers=headers)
    if response.status_code == 200:
        return
    error = await assert_error_shape(response)
    assert response.status_code in (400, 401, 403, 404, 429), error
    if error["code"] == "VALIDATION_ERROR":
        assert error.get("field"), "P41: a validation error names its field"


async def test_an_oversized_body_is_refused_before_anything_runs(client: Client, school: SeedResult) -> None:
    size = 1024 * 1024 + 1
    response = await client.get(
        "/api/students/dashboard",
        headers={**bearer(school.demo_student_id), "Content-Length": str(size)},
        data=b"x" * size,
    )
    error = await assert_error_shape(response, 413)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "X-RateLimit-Limit" not in response.headers, "nothing was counted or computed"


async def test_an_unexpected_error_is_a_500_without_internals_and_logged_with_context(
    app: Quart, client: Client, school: SeedResult, capsys: pytest.CaptureFixture[str]
) -> None:
    state = app.extensions["edge"]

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the database driver exploded")

    original = state.db.call_as
    state.db.call_as = broken
    try:
        response = await client.get("/api/students/ranking", headers=bearer(school.demo_student_id))
    finally:
        state.db.call_as = original
    error = await assert_error_shape(response, 500)
    assert error["code"] == "INTERNAL_ERROR" and "exploded" not in error["message"]
    logged = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"unhandled_error"' in line
    ]
    assert len(logged) == 1
    entry = logged[0]
    assert entry["request_id"] == error["requestId"]
    assert entry["user_id"] == str(school.demo_student_id) and entry["path"] == "/api/students/ranking"
    assert "exploded" in json.dumps(entry["exception"]), "the stack trace is in the log"


async def test_oversized_request_headers_are_a_431_in_the_error_shape(
    app: Quart, client: Client, school: SeedResult
) -> None:
    limit = app.config["SETTINGS"].max_header_bytes
    headers = {**bearer(school.demo_student_id), "X-Padding": "a" * limit}
    response = await client.get("/api/students/dashboard", headers=headers)
    error = await assert_error_shape(response, 431)
    assert error["code"] == "HEADERS_TOO_LARGE"
    fine = {**bearer(school.demo_student_id), "X-Padding": "a" * (limit // 2)}
    assert (await client.get("/api/students/dashboard", headers=fine)).status_code == 200
