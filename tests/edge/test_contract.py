"""The OpenAPI document against the server: real responses of every endpoint, for each status a
request here provokes, are documented with that status, carry the documented required headers,
and validate against the documented model, which allows no field it does not name."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import urllib.parse
import uuid
from typing import Any

import psycopg
import pytest
from pydantic import BaseModel, ValidationError
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response
from quart_schema.validation import QUART_SCHEMA_RESPONSE_ATTRIBUTE

from db.seed import SeedResult
from edge import create_app
from edge.schemas import ISO_WEEK, ErrorResponse, PreferencesUpdate
from edge.settings import EdgeSettings
from tests import samples
from tests.edge.conftest import bearer, settle

UNDOCUMENTED = {"/openapi.json", "/docs", "/metrics", "/static/<path:filename>"}


class Contract:
    """Checks responses against the document and remembers which operations answered 2xx."""

    def __init__(self, app: Quart, spec: dict[str, Any]) -> None:
        self.app = app
        self.spec = spec
        self.succeeded: set[tuple[str, str]] = set()
        # One path may have a rule per method (GET and PUT /api/students/preferences).
        self.rules = {
            (method, rule.rule): rule
            for rule in app.url_map.iter_rules()
            if rule.rule not in UNDOCUMENTED
            for method in rule.methods or ()
            if method not in ("HEAD", "OPTIONS")
        }

    def model_for(self, method: str, rule_path: str, status: int) -> type[BaseModel]:
        func = self.app.view_functions[self.rules[(method.upper(), rule_path)].endpoint]
        documented = getattr(func, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {})
        if status in documented:
            model: type[BaseModel] = documented[status][0]
            return model
        return ErrorResponse

    async def check(self, rule_path: str, method: str, response: Response, status: int) -> Any:
        body = await response.get_data()
        assert response.status_code == status, body
        path = re.sub(r"<(?:[^:>]*:)?([^>]+)>", r"{\1}", rule_path)
        documented = self.spec["paths"][path][method.lower()]["responses"]
        assert str(status) in documented, f"{method} {path} answered an undocumented {status}"
        for name, header in documented[str(status)].get("headers", {}).items():
            if header["required"]:
                assert name in response.headers, f"{method} {path} {status} lacks {name}"
        content = documented[str(status)].get("content", {})
        media = response.headers.get("Content-Type", "").split(";")[0]
        if "application/json" not in content:
            # A file: its media type is one of those documented.
            assert media in content, f"{method} {path} {status} sent {media}, documented {sorted(content)}"
            self.succeeded.add((method.upper(), rule_path))
            return body
        try:
            parsed = self.model_for(method, rule_path, status).model_validate_json(body)
        except ValidationError as exc:
            raise AssertionError(f"{method} {path} {status}: {exc}") from exc
        if 200 <= status < 300:
            self.succeeded.add((method.upper(), rule_path))
        return parsed


@pytest.fixture
async def contract(app: Quart, client: Client) -> Contract:
    spec = await (await client.get("/openapi.json")).get_json()
    return Contract(app, spec)


async def test_every_endpoint_answers_as_documented(
    client: Client, school: SeedResult, contract: Contract, db: psycopg.Connection[Any]
) -> None:
    student, teacher, admin = (
        bearer(u) for u in (school.demo_student_id, school.demo_teacher_id, school.admin_id)
    )
    cls = str((await (await client.get("/api/students/dashboard", headers=student)).get_json())["classId"])
    check = contract.check

    for path in ("/api/students/dashboard", "/api/students/ranking", "/api/students/class-statistics"):
        await check(path, "GET", await client.get(path, headers=student), 200)
        await check(path, "GET", await client.get(path, headers=student), 200)  # from the cache
        await check(path, "GET", await client.get(path, headers=teacher), 403)
        await check(path, "GET", await client.get(path), 401)
        await check(path, "GET", await client.get(f"{path}?x=1", headers=student), 400)
    weekly = "/api/students/attendance/weekly"
    week = dt.date.today().isocalendar()
    for _ in range(2):
        await check(
            weekly, "GET", await client.get(f"{weekly}?week={week[0]}-W{week[1]:02d}", headers=student), 200
        )
    await check(weekly, "GET", await client.get(f"{weekly}?week=2025-W53", headers=student), 400)
    await check(weekly, "GET", await client.get(weekly, headers=student), 400)
    await check(weekly, "GET", await client.get(f"{weekly}?week=2026-W07", headers=teacher), 403)

    [(other,)] = db.execute("select id::text from app.classes where id <> %s", (cls,)).fetchall()
    for name in ("statistics", "rankings"):
        path = f"/api/classes/<id>/{name}"
        await check(path, "GET", await client.get(f"/api/classes/{cls}/{name}", headers=teacher), 200)
        await check(path, "GET", await client.get(f"/api/classes/{other}/{name}", headers=admin), 200)
        await check(path, "GET", await client.get(f"/api/classes/{other}/{name}", headers=student), 403)
        await check(path, "GET", await client.get(f"/api/classes/{cls}x/{name}", headers=teacher), 400)
        unknown = "00000000-0000-4000-8000-000000000000"
        await check(path, "GET", await client.get(f"/api/classes/{unknown}/{name}", headers=admin), 404)
    own_rankings = await client.get(f"/api/classes/{cls}/rankings", headers=student)
    await check("/api/classes/<id>/rankings", "GET", own_rankings, 403)

    audit = "/api/admin/audit"
    page = await check(audit, "GET", await client.get(f"{audit}?success=false&limit=5", headers=admin), 200)
    assert page.entries, "the refused requests above were audited"
    await check(audit, "GET", await client.get(f"{audit}?to=0.5", headers=admin), 400)
    backwards = "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z"
    empty = await check(audit, "GET", await client.get(f"{audit}?{backwards}", headers=admin), 200)
    assert (empty.entries, empty.total) == ([], 0), "a range that ends before it starts holds nothing"
    await check(audit, "GET", await client.get(audit, headers=teacher), 403)
    reset = "/api/admin/rate-limits/<userId>"
    target = f"/api/admin/rate-limits/{school.demo_student_id}"
    await check(reset, "DELETE", await client.delete(target, headers=admin), 200)
    await check(reset, "DELETE", await client.delete(target, headers=teacher), 403)
    await check(reset, "DELETE", await client.delete("/api/admin/rate-limits/someone", headers=admin), 400)

    events = "/api/students/events"
    start = await check(events, "GET", await client.get(events, headers=student), 200)
    db.execute(
        "update app.attendance_records set status = 'absent'"
        " where student_id = %s and date = (select max(date) from app.attendance_records)",
        (school.demo_student_id,),
    )
    await settle(client.app)
    page = await check(
        events, "GET", await client.get(f"{events}?after={start.nextAfter}", headers=student), 200
    )
    assert {e.event for e in page.events} == {"attendance_update", "metrics_update"}
    reset = await check(events, "GET", await client.get(f"{events}?after={'7' * 32}", headers=student), 200)
    assert [e.event for e in reset.events] == ["reset"]
    await check(events, "GET", await client.get(f"{events}?after=nonsense", headers=student), 400)
    await check(events, "GET", await client.get(f"{events}?limit=0", headers=student), 400)
    await check(events, "GET", await client.get(events, headers=teacher), 403)
    ticket = "/api/students/notifications/sse/ticket"
    issued = await check(ticket, "POST", await client.post(ticket, headers=student), 201)
    assert issued.expiresIn == 60
    sse = "/api/students/notifications/sse"
    for query, headers in ((f"?ticket={issued.ticket}", {}), ("", student)):
        connection: Any
        async with client.request(f"{sse}{query}", headers=headers) as connection:
            await connection.send_complete()
            first = await connection.receive()
            assert connection.status_code == 200
            assert connection.headers["Content-Type"].startswith("text/event-stream")
            documented = contract.spec["paths"][sse]["get"]["responses"]["200"]
            assert "text/event-stream" in documented["content"]
            for name, header in documented["headers"].items():
                if header["required"]:
                    assert name in connection.headers, name
            assert first.startswith(b"retry: ") and b"\nid: " in first
            await connection.disconnect()
        contract.succeeded.add(("GET", sse))
    await check(sse, "GET", await client.get(f"{sse}?ticket={issued.ticket}"), 401)
    await check(sse, "GET", await client.get(f"{sse}?other=1", headers=student), 400)
    await check(sse, "GET", await client.get(sse, headers=teacher), 403)

    db.execute(
        "select app.create_notifications(array[row(%s, 'system_announcement', 'T', 'M', 'info', null, null)"
        "::app.new_notification])",
        (school.demo_student_id,),
    )
    notes = "/api/students/notifications"
    listed = await check(notes, "GET", await client.get(f"{notes}?limit=1", headers=student), 200)
    await check(notes, "GET", await client.get(f"{notes}?limit=0", headers=student), 400)
    await check(notes, "GET", await client.get(notes, headers=teacher), 403)
    read = "/api/students/notifications/read"
    body = {"ids": [str(listed.notifications[0].id)]}
    marked = await check(read, "POST", await client.post(read, headers=student, json=body), 200)
    assert marked.updated == 1
    await check(read, "POST", await client.post(read, headers=student, json={"all": False}), 400)
    await check(read, "POST", await client.post(read, json={"all": True}), 401)
    prefs = "/api/students/preferences"
    current = await check(prefs, "GET", await client.get(prefs, headers=student), 200)
    update = {k: getattr(current, k) for k in PreferencesUpdate.model_fields}
    await check(prefs, "PUT", await client.put(prefs, headers=student, json=update), 200)
    await check(prefs, "PUT", await client.put(prefs, headers=student, json={**update, "x": 1}), 400)
    await check(prefs, "PUT", await client.put(prefs, headers=teacher, json=update), 403)

    export = "/api/students/export"
    for fmt in ("csv", "pdf"):
        await check(
            export,
            "GET",
            await client.get(f"{export}?format={fmt}&from=2026-11-01&to=2026-11-30", headers=student),
            200,
        )
    await check(
        export,
        "GET",
        await client.get(f"{export}?format=csv&from=2026-11-30&to=2026-11-01", headers=student),
        400,
    )
    await check(
        export,
        "GET",
        await client.get(f"{export}?format=csv&from=2026-11-01&to=2026-11-30", headers=teacher),
        403,
    )

    upload = "/api/students/files/upload"
    form, form_type = samples.multipart([("file", "note.pdf", samples.pdf())], boundary="contract")
    sent = await client.post(upload, data=form, headers={**student, "Content-Type": form_type})
    uploaded = await check(upload, "POST", sent, 201)
    file_id = str(uploaded.fileId)
    png_named_pdf, _ = samples.multipart([("file", "note.pdf", samples.png())], boundary="contract")
    wrong = await client.post(upload, data=png_named_pdf, headers={**student, "Content-Type": form_type})
    await check(upload, "POST", wrong, 415)
    await check(
        upload,
        "POST",
        await client.post(upload, data=form, headers={**teacher, "Content-Type": form_type}),
        403,
    )
    files, one = "/api/students/files", "/api/students/files/<file_id:id>"
    await check(files, "GET", await client.get(files, headers=teacher), 200)
    await check(files, "GET", await client.get(f"{files}?limit=0", headers=student), 400)
    await check(one, "GET", await client.get(f"{files}/{uuid.uuid4()}", headers=student), 404)
    review = "/api/staff/files/<id>/review"
    approve = {"decision": "approve"}
    on = f"/api/staff/files/{file_id}/review"
    await check(review, "POST", await client.post(on, json=approve, headers=teacher), 409)
    # The worker's scan passes: the file gets a download URL.
    db.execute("select app.begin_certificate_scan(%s)", (file_id,))
    db.execute("select app.finish_certificate_scan(%s, '{}', '{builtin}')", (file_id,))
    scanned = await check(one, "GET", await client.get(f"{files}/{file_id}", headers=student), 200)
    signed = urllib.parse.urlsplit(str(scanned.signedUrl))
    download = "/files/<id>"
    await check(download, "GET", await client.get(f"{signed.path}?{signed.query}"), 200)
    await check(download, "GET", await client.get(f"{signed.path}?{signed.query}x"), 400)
    await check(download, "GET", await client.get(f"/files/{uuid.uuid4()}?{signed.query}"), 403)
    await check(review, "POST", await client.post(on, json={"decision": "no"}, headers=teacher), 400)
    await check(review, "POST", await client.post(on, json=approve, headers=student), 403)
    await check(review, "POST", await client.post(on, json=approve, headers=teacher), 200)
    await check(one, "DELETE", await client.delete(f"{files}/{file_id}", headers=teacher), 403)
    await check(one, "DELETE", await client.delete(f"{files}/{file_id}", headers=student), 200)

    await check("/healthz", "GET", await client.get("/healthz"), 200)
    await check("/readyz", "GET", await client.get("/readyz"), 200)
    await check("/healthz", "GET", await client.get("/healthz", headers={"X-Big": "a" * 20_000}), 431)
    big = await client.get("/healthz", headers={"Content-Length": str(2 * 1024 * 1024)})
    await check("/healthz", "GET", big, 413)

    operations = set(contract.rules)
    assert contract.succeeded == operations, "every operation was seen succeeding"


async def test_a_refused_request_carries_the_documented_rate_limit_headers(
    settings: EdgeSettings, school: SeedResult
) -> None:
    app = create_app(dataclasses.replace(settings, rate_limits={"student_reads": (1, 60)}))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        contract = Contract(app, await (await client.get("/openapi.json")).get_json())
        headers = bearer(school.demo_student_id)
        await contract.check(
            "/api/students/dashboard",
            "GET",
            await client.get("/api/students/dashboard", headers=headers),
            200,
        )
        refused = await client.get("/api/students/dashboard", headers=headers)
        await contract.check("/api/students/dashboard", "GET", refused, 429)


async def test_a_method_that_is_not_allowed_names_the_allowed_ones(client: Client) -> None:
    for method in ("POST", "TRACE", "PUT"):
        response = await client.open("/api/students/dashboard", method=method)  # type: ignore[call-arg]
        assert response.status_code == 405
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        ErrorResponse.model_validate_json(await response.get_data())


async def test_the_document_names_formats_requirements_and_the_bearer_scheme(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    parameters = {
        (path, p["name"]): p
        for path, ops in spec["paths"].items()
        for op in ops.values()
        for p in op["parameters"]
    }
    assert parameters[("/api/classes/{id}/statistics", "id")]["schema"] == {
        "type": "string",
        "format": "uuid",
    }
    assert parameters[("/api/admin/rate-limits/{userId}", "userId")]["schema"]["format"] == "uuid"
    assert parameters[("/api/students/attendance/weekly", "week")]["required"] is True
    assert parameters[("/api/students/attendance/weekly", "week")]["schema"]["pattern"] == ISO_WEEK
    assert parameters[("/api/admin/audit", "limit")]["required"] is False
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    dashboard = spec["paths"]["/api/students/dashboard"]["get"]
    assert dashboard["security"] == [{"bearerAuth": []}]
    assert {"400", "401", "403", "413", "429", "431", "500", "503"} <= set(dashboard["responses"])
    assert "security" not in spec["paths"]["/healthz"]["get"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=0.5", "to"),
        ("from=2026-11-30T08:00:00", "from"),
        ("from=yesterday", "from"),
        ("userId=1b4e28ba2fa141d2883f0016d3cca427", "userId"),
        ("success=yes", "success"),
        ("limit=1.5", "limit"),
    ],
)
async def test_audit_filters_take_exactly_their_documented_formats(
    client: Client, school: SeedResult, query: str, field: str
) -> None:
    response = await client.get(f"/api/admin/audit?{query}", headers=bearer(school.admin_id))
    body = await response.get_json()
    assert response.status_code == 400 and body["error"]["field"] == field, body


async def test_any_offset_rfc3339_allows_is_accepted(client: Client, school: SeedResult) -> None:
    """Postgres refuses offsets past 15:59; the edge hands it UTC."""
    for value in ("0138-06-22T06:18:10-22:11", "2026-11-30T08:00:00.5+23:59", "9999-12-31T23:59:59Z"):
        response = await client.get(
            f"/api/admin/audit?to={value.replace('+', '%2B')}", headers=bearer(school.admin_id)
        )
        assert response.status_code == 200, await response.get_json()


def test_the_week_pattern_admits_exactly_the_weeks_that_exist() -> None:
    pattern = re.compile(ISO_WEEK)
    for year in range(0, 10_000):
        weeks = dt.date(year, 12, 28).isocalendar().week if year else 0
        admitted = [w for w in range(0, 56) if pattern.fullmatch(f"{year:04d}-W{w:02d}")]
        assert admitted == list(range(1, weeks + 1)), year
