"""Exports: CSV streamed with its BOM, CRLF and neutralised cells, the PDF, the five-an-hour
limit (P17), the audit entry with the output's sha256 (P21), and the bad input the issue names."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

import httpx
import psycopg
from hypothesis import given
from hypothesis import strategies as st
from quart.typing import TestClientProtocol as Client

from db.seed import SeedResult
from edge.exports import neutralise
from edge.settings import EdgeSettings
from tests.edge.conftest import bearer, served_edges

RANGE = "from=2026-01-01&to=2026-12-31"


def last_export(db: psycopg.Connection[Any], user: Any) -> tuple[Any, ...]:
    row = db.execute(
        "select metadata, ip_address, success from audit.audit_logs"
        " where action = 'data_export' and user_id = %s order by timestamp desc limit 1",
        (user,),
    ).fetchone()
    assert row is not None, "no data_export entry"
    return tuple(row)


TRIGGERS = "=+-@\uff1d\uff0b\uff0d\uff20"


@given(
    st.text(alphabet=" \u00a0\u3000\t\r\n", max_size=3),
    st.sampled_from(TRIGGERS),
    st.text(max_size=20),
)
def test_a_cell_never_reaches_a_spreadsheet_as_a_formula(padding: str, trigger: str, rest: str) -> None:
    """For any cell that starts, after any whitespace, with a formula sign (ASCII or
    full-width): it leaves quoted, and the quote is all that was added."""
    cell = padding + trigger + rest
    assert neutralise(cell) == "'" + cell


@given(st.text(max_size=30))
def test_a_cell_is_changed_only_when_it_could_be_a_formula(cell: str) -> None:
    out = neutralise(cell)
    could_be = cell[:1] in ("\t", "\r", "\n") or cell.lstrip()[:1] in tuple(TRIGGERS)
    assert out == ("'" + cell if could_be else cell)


async def test_csv_is_the_callers_records_with_a_bom_crlf_and_formulas_neutralised(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    db.execute(
        "insert into app.attendance_records (student_id, class_id, date, period, subject, status)"
        " select id, class_id, date '2026-12-30', 12, '=HYPERLINK(\"http://x\")', 'present'"
        " from app.students where id = %s",
        (me,),
    )
    response = await client.get(f"/api/students/export?format=csv&{RANGE}", headers=bearer(me))
    body = await response.get_data(as_text=False)
    assert response.status_code == 200, body
    assert response.headers["Content-Type"].startswith("text/csv")
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="attendance-2026-01-01-2026-12-31.csv"'
    )
    assert body.startswith(b"\xef\xbb\xbfdate,period,subject,status,class,marked_at\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))[1:]
    expected = db.execute(
        "select count(*) from app.attendance_records"
        " where student_id = %s and date between '2026-01-01' and '2026-12-31'",
        (me,),
    ).fetchone()
    assert expected is not None and len(rows) == expected[0] > 0
    assert rows[-1][2] == '\'=HYPERLINK("http://x")' and rows[-1][:2] == ["2026-12-30", "12"]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    metadata, _ip, success = last_export(db, me)
    assert success is True
    assert metadata == {
        "format": "csv",
        "from": "2026-01-01",
        "to": "2026-12-31",
        "rows": len(rows),
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


async def test_pdf_has_the_range_and_is_audited_with_its_sha256(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    response = await client.get(f"/api/students/export?format=pdf&{RANGE}", headers=bearer(me))
    body = await response.get_data(as_text=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")
    metadata, _ip, _ok = last_export(db, me)
    assert metadata["format"] == "pdf" and metadata["sha256"] == hashlib.sha256(body).hexdigest()
    assert metadata["rows"] > 0


async def test_the_sixth_export_in_an_hour_is_refused(client: Client, school: SeedResult) -> None:
    """P17: five exports an hour per student; the sixth is a 429, another student is not held."""
    headers = bearer(school.demo_student_id)
    for i in range(5):
        ok = await client.get(f"/api/students/export?format=csv&{RANGE}", headers=headers)
        await ok.get_data()
        assert ok.status_code == 200, i
        assert ok.headers["X-RateLimit-Limit"] == "5"
    refused = await client.get(f"/api/students/export?format=pdf&{RANGE}", headers=headers)
    body = await refused.get_json()
    assert refused.status_code == 429 and body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(refused.headers["Retry-After"]) > 0


async def test_bad_exports_name_what_is_wrong_and_are_audited(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    headers = bearer(school.demo_student_id)
    bad = (
        ("format=csv&from=2026-12-31&to=2026-01-01", "to"),
        ("format=xlsx&" + RANGE, "format"),
        ("format=csv&to=2026-01-01", "from"),
        ("format=csv&from=2026-02-30&to=2026-03-01", "from"),
    )
    messages = []
    for query, field in bad:
        response = await client.get(f"/api/students/export?{query}", headers=headers)
        body = await response.get_json()
        assert response.status_code == 400, (query, body)
        assert body["error"]["field"] == field, (query, body)
        messages.append(body["error"]["message"])
    staff = await client.get(
        f"/api/students/export?format=csv&{RANGE}", headers=bearer(school.demo_teacher_id)
    )
    assert staff.status_code == 403
    entries = db.execute(
        "select user_id, metadata->>'query', (metadata->>'httpStatus')::int, error_message"
        " from audit.audit_logs where action = 'data_export' and not success order by timestamp"
    ).fetchall()
    assert entries == [
        *(
            (school.demo_student_id, query, 400, message)
            for (query, _), message in zip(bad, messages, strict=True)
        ),
        (school.demo_teacher_id, f"format=csv&{RANGE}", 403, (await staff.get_json())["error"]["message"]),
    ]


def test_the_audit_entry_has_the_callers_address(
    settings: EdgeSettings, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    """P21 over a real socket: the entry has the format, the range and the client's address."""
    with served_edges(settings) as [url]:
        response = httpx.get(
            f"{url}/api/students/export?format=csv&from=2026-11-01&to=2026-11-30",
            headers=bearer(school.demo_student_id),
            timeout=30,
        )
    assert response.status_code == 200
    metadata, ip, success = last_export(db, school.demo_student_id)
    assert (metadata["format"], metadata["from"], metadata["to"], str(ip), success) == (
        "csv",
        "2026-11-01",
        "2026-11-30",
        "127.0.0.1",
        True,
    )
    assert metadata["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert dt.date.fromisoformat(metadata["to"]) >= dt.date.fromisoformat(metadata["from"])


def test_exports_are_not_served_by_postgrest(db: psycopg.Connection[Any]) -> None:
    """PostgREST serves the api schema: an export there would skip the edge's limit (P17) and
    its audit entry (P21). The edge calls them in app, as the student."""
    for name in ("export_records", "export_summary"):
        assert db.execute("select to_regprocedure(%s)", (f"api.{name}(date, date)",)).fetchone() == (None,)
        assert db.execute("select to_regprocedure(%s)", (f"app.{name}(date, date)",)).fetchone() != (None,)
