"""Notifications and preferences at the edge: pages, marking read, preferences, the bad input
the issue names, cached pages invalidated by the outbox, and a new alert on an open stream."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from quart.typing import TestClientProtocol as Client

from db.seed import SeedResult
from edge.settings import EdgeSettings
from tests.edge.conftest import bearer, served_edges, settle
from tests.edge.live_helpers import Classroom, streams, wait_until

PREFS = {
    "emailEnabled": True,
    "inAppEnabled": True,
    "attendanceAlerts": True,
    "fileUpdates": True,
    "systemAnnouncements": True,
}


def announce(db: psycopg.Connection[Any], student: uuid.UUID, n: int) -> list[str]:
    rows = db.execute(
        "select * from app.create_notifications(array(select row(%s, 'system_announcement', 'Notice ' || i,"
        " 'Body ' || i, 'info', null, null)::app.new_notification from generate_series(1, %s) as i))",
        (student, n),
    ).fetchall()
    return [str(r[0]) for r in rows]


async def test_pages_follow_the_cursor_and_marking_read_invalidates_them(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    other = db.execute("select id from app.students where id <> %s limit 1", (me,)).fetchone()
    assert other is not None
    db.execute("delete from app.notifications")
    mine = announce(db, me, 5)
    theirs = announce(db, other[0], 1)
    await settle(client.app)
    headers = bearer(me)

    first = await client.get("/api/students/notifications?limit=3", headers=headers)
    body = await first.get_json()
    assert first.status_code == 200, body
    assert first.headers["X-Cache"] == "MISS" and body["unreadCount"] == 5
    assert len(body["notifications"]) == 3 and body["nextCursor"]
    second = await client.get(
        f"/api/students/notifications?limit=3&cursor={body['nextCursor']}", headers=headers
    )
    rest = await second.get_json()
    assert rest["nextCursor"] is None
    assert sorted(n["id"] for n in body["notifications"] + rest["notifications"]) == sorted(mine)
    again = await client.get("/api/students/notifications?limit=3", headers=headers)
    assert again.headers["X-Cache"] == "HIT"

    marked = await client.post(
        "/api/students/notifications/read",
        headers=headers,
        json={"ids": [mine[0], theirs[0], str(uuid.uuid4())]},
    )
    assert marked.status_code == 200
    assert await marked.get_json() == {"updated": 1, "unreadCount": 4}
    await settle(client.app)
    after = await client.get("/api/students/notifications?limit=3", headers=headers)
    assert after.headers["X-Cache"] == "MISS" and (await after.get_json())["unreadCount"] == 4
    unread = await (
        await client.get("/api/students/notifications?unread=true&limit=100", headers=headers)
    ).get_json()
    assert mine[0] not in {n["id"] for n in unread["notifications"]} and len(unread["notifications"]) == 4

    everything = await client.post("/api/students/notifications/read", headers=headers, json={"all": True})
    assert await everything.get_json() == {"updated": 4, "unreadCount": 0}
    assert db.execute("select read from app.notifications where id = %s", (theirs[0],)).fetchone() == (False,)


async def test_bad_read_requests_name_what_is_wrong(client: Client, school: SeedResult) -> None:
    headers = bearer(school.demo_student_id)
    for payload, field in (
        ({}, None),
        ({"ids": []}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids.0"),
        ({"all": False}, "all"),
        ({"ids": [str(uuid.uuid4())], "all": True}, None),
        ({"every": True}, "all"),
    ):
        response = await client.post("/api/students/notifications/read", headers=headers, json=payload)
        body = await response.get_json()
        assert response.status_code == 400, (payload, body)
        assert body["error"]["code"] == "VALIDATION_ERROR"
        if field is not None:
            assert body["error"]["field"] == field, (payload, body)
    for raw in (b"\xff\xfeD", b"{", b"[1, 2]"):
        response = await client.post(
            "/api/students/notifications/read",
            headers={**headers, "Content-Type": "application/json"},
            data=raw,
        )
        assert response.status_code == 400, raw
    unauthenticated = await client.post("/api/students/notifications/read", json={})
    assert unauthenticated.status_code == 401
    bad_cursor = await client.get("/api/students/notifications?cursor=nope", headers=headers)
    assert bad_cursor.status_code == 400 and (await bad_cursor.get_json())["error"]["field"] == "cursor"


async def test_preferences_are_read_and_replaced_and_bad_ones_change_nothing(
    client: Client, school: SeedResult
) -> None:
    headers = bearer(school.demo_student_id)
    got = await client.get("/api/students/preferences", headers=headers)
    body = await got.get_json()
    assert got.status_code == 200 and {k: body[k] for k in PREFS} == PREFS
    for payload, field in (
        ({**PREFS, "sms": True}, "sms"),
        ({**PREFS, "emailEnabled": "yes"}, "emailEnabled"),
        ({**PREFS, "inAppEnabled": 1}, "inAppEnabled"),
        ({k: v for k, v in PREFS.items() if k != "fileUpdates"}, "fileUpdates"),
    ):
        response = await client.put("/api/students/preferences", headers=headers, json=payload)
        error = (await response.get_json())["error"]
        assert response.status_code == 400 and error["field"] == field, (payload, error)
    await settle(client.app)
    unchanged = await (await client.get("/api/students/preferences", headers=headers)).get_json()
    assert {k: unchanged[k] for k in PREFS} == PREFS

    changed = await client.put(
        "/api/students/preferences", headers=headers, json={**PREFS, "emailEnabled": False}
    )
    assert changed.status_code == 200 and (await changed.get_json())["emailEnabled"] is False
    await settle(client.app)
    now = await client.get("/api/students/preferences", headers=headers)
    assert now.headers["X-Cache"] == "MISS" and (await now.get_json())["emailEnabled"] is False


async def test_staff_have_no_notifications(client: Client, school: SeedResult) -> None:
    response = await client.get("/api/students/notifications", headers=bearer(school.demo_teacher_id))
    assert response.status_code == 403


async def test_a_new_alert_reaches_the_open_stream(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 2)
    me, classmate = room.students
    with served_edges(settings) as [url]:
        async with streams(url, [me, classmate]) as got:
            for period in range(1, 11):
                room.mark(period, "absent", [me])
            await wait_until(lambda: got[me].of("notification"), 2.0, "the notification event")
            (note,) = got[me].of("notification")
            assert note[2]["type"] == "mahroom_alert" and note[2]["severity"] == "error"
            assert got[classmate].of("notification") == [], "a notification is its student's alone"
