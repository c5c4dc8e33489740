"""Live updates end to end: real Postgres, Redis and hypercorn processes; marks written as a
teacher the way PostgREST writes them (role authenticated with the teacher's claims)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
import time
import uuid
from typing import Any, cast

import httpx
import psutil
import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import Redis

from edge import keys
from edge.outbox import APPLICATION_NAME
from edge.settings import EdgeSettings
from tests.edge.conftest import bearer, http_scope, introduce, served_edges, settle, token
from tests.edge.live_helpers import Classroom, Received, listen, streams, wait_until

FAST = {"SSE_HEARTBEAT_S": "1", "SSE_RECORD_TTL_S": "3"}


async def test_a_mark_written_through_postgrest_invalidates_cached_responses_within_a_second(
    app: Quart, client: Client, db: psycopg.Connection[Any]
) -> None:
    """P5: the student's and the class's cached responses stop being served."""
    room = Classroom(db, 3)
    me, classmate = room.students[0], room.students[1]
    room.mark(1, "present")
    for student in (me, classmate):
        await introduce(client, bearer(student))
        await client.get("/api/students/dashboard", headers=bearer(student))
        hit = await client.get("/api/students/dashboard", headers=bearer(student))
        assert hit.headers["X-Cache"] == "HIT"

    room.mark(2, "absent", [me])
    started = time.monotonic()
    mine: dict[str, Any] = {}

    async def refreshed() -> bool:
        response = await client.get("/api/students/dashboard", headers=bearer(me))
        mine.update(await response.get_json())
        return response.headers["X-Cache"] != "HIT"

    while not await refreshed():
        assert time.monotonic() - started < 1.0, "still served from the cache after 1 s"
        await asyncio.sleep(0.02)
    assert mine["absentDays"] == 1 and mine["totalClasses"] == 2
    theirs = await client.get("/api/students/dashboard", headers=bearer(classmate))
    assert theirs.headers["X-Cache"] != "HIT", "the class's figures moved: the classmate's entry went too"
    assert time.monotonic() - started < 1.0


async def test_an_event_reaches_the_student_within_two_seconds(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    """P6, and what each student of the class receives: their own change, and their figures."""
    room = Classroom(db, 3)
    me, classmate = room.students[0], room.students[1]
    with served_edges(settings, env=FAST) as [url]:
        async with streams(url, [me, classmate]) as got:
            started = time.monotonic()
            room.mark(1, "sick", [me])
            await wait_until(lambda: got[me].of("metrics_update"), 2.0, "my metrics_update")
            assert time.monotonic() - started < 2.0
            (change,) = got[me].of("attendance_update")
            assert change[2]["status"] == "sick" and change[2]["change"] == "marked"
            assert change[2]["markedBy"] == str(room.teacher)
            metrics = got[me].of("metrics_update")[-1]
            assert metrics[2]["sickDays"] == 1 and metrics[2]["studentId"] == str(me)
            assert metrics[0] >= change[0], "the figures come after the change they include"
            await wait_until(lambda: got[classmate].of("metrics_update"), 2.0, "the classmate's metrics")
            assert got[classmate].of("attendance_update") == [], "a classmate's record stays private"

        # The pushed dashboard was stored: the next GET is a HIT with the same figures.
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{url}/api/students/dashboard", headers=bearer(me))
        assert response.headers["X-Cache"] == "HIT"
        assert response.json()["sickDays"] == 1


def test_every_connected_student_of_the_class_gets_the_class_change(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    """P8: for any class size and any set of connected students, a mark of one student reaches
    every connected student of the class as a metrics_update, and nobody else."""
    with served_edges(settings, env=FAST) as [url]:

        @hypothesis_settings(
            max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
        )
        @given(data=st.data(), size=st.integers(1, 8))
        def check(data: st.DataObject, size: int) -> None:
            room = Classroom(db, size)
            outsider = Classroom(db, 1)
            connected = data.draw(
                st.lists(st.sampled_from(room.students), min_size=1, max_size=size, unique=True), "connected"
            )
            marked = data.draw(st.sampled_from(room.students), "marked")
            asyncio.run(_class_change(url, room, connected + outsider.students, marked))

        check()


async def _class_change(url: str, room: Classroom, connected: list[uuid.UUID], marked: uuid.UUID) -> None:
    async with streams(url, connected) as got:
        room.mark(1, "absent", [marked])
        members = [s for s in connected if s in room.students]
        await wait_until(
            lambda: all(got[s].of("metrics_update") for s in members), 5.0, "every member's metrics_update"
        )
        await asyncio.sleep(0.3)
        for s in connected:
            updates = got[s].of("attendance_update")
            assert len(updates) == (1 if s == marked else 0)
            if s not in room.students:
                assert got[s].of("metrics_update") == [], "another class's student gets nothing"


async def test_streams_are_counted_across_processes_and_forgotten_when_they_end(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    """P7 and P10: each stream has a Redis record with a TTL, counted across processes; a
    closed stream's record and memory go at once, a dead process's records within their TTL."""
    room = Classroom(db, 5)
    redis = Redis.from_url(settings.redis_url)
    with served_edges(settings, count=2, env=FAST) as edges:
        first, second = edges
        async with streams(first, room.students[:3]), streams(second, room.students[3:]):
            await wait_until(lambda: redis.zcard(keys.SSE_CONNECTIONS) == 5, 5, "five records")
            ids = [m.decode() for m in cast(list[bytes], redis.zrange(keys.SSE_CONNECTIONS, 0, -1))]
            record = redis.hgetall(keys.sse_connection(ids[0]))
            assert {b"studentId", b"classId", b"createdAt", b"lastPing"} <= set(record)
            assert record[b"classId"] == str(room.class_id).encode()
            assert 0 < redis.ttl(keys.sse_connection(ids[0])) <= 3
            metrics = await _metrics(first)
            assert metrics["edge_sse_streams"] == 3
            await asyncio.sleep(1.5)
            assert (await _metrics(first))["edge_sse_streams_everywhere"] == 5
            async with streams(first, room.students[:1]):
                await wait_until(lambda: redis.zcard(keys.SSE_CONNECTIONS) == 6, 5, "six records")
            await wait_until(lambda: redis.zcard(keys.SSE_CONNECTIONS) == 5, 2, "the closed stream forgotten")
            assert (await _metrics(first))["edge_sse_streams"] == 3

            # hypercorn serves from a child process: kill the whole tree, as a crash would.
            doomed = psutil.Process(edges.procs[1].pid)
            for proc in [*doomed.children(recursive=True), doomed]:
                proc.kill()
            edges.procs[1].wait()
            await wait_until(
                lambda: redis.exists(*[keys.sse_connection(i) for i in ids]) == 3,
                5,
                "the dead process's records expire",
            )
            await asyncio.sleep(1.5)
            assert (await _metrics(first))["edge_sse_streams_everywhere"] == 3
        await wait_until(lambda: redis.zcard(keys.SSE_CONNECTIONS) == 0, 5, "every record gone")
        await asyncio.sleep(0.2)
        assert (await _metrics(first))["edge_sse_streams"] == 0


async def _metrics(url: str) -> dict[str, float]:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    out = {}
    for line in text.splitlines():
        if line.startswith("edge_sse_streams"):
            name, value = line.split()
            out[name] = float(value)
    return out


async def test_a_resumed_stream_gets_what_it_missed_once_on_another_process(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 2)
    me = room.students[0]
    with served_edges(settings, count=2, env=FAST) as [first, second]:
        async with streams(first, [me]) as got:
            room.mark(1, "present", [me])
            await wait_until(lambda: got[me].of("metrics_update"), 2, "the first change")
            last = got[me].last_id
        room.mark(2, "absent", [me])
        room.mark(3, "sick", [me])
        resumed = Received()
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
            task = asyncio.create_task(listen(http, second, me, resumed, last_event_id=last))
            await wait_until(
                lambda: len(resumed.of("attendance_update")) == 2, 3, f"the missed changes {resumed}"
            )
            room.mark(4, "leave", [me])
            await wait_until(lambda: len(resumed.of("attendance_update")) == 3, 3, "the live change")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    periods = [e[2]["period"] for e in resumed.of("attendance_update")]
    assert periods == [2, 3, 4], "missed ones in order, then live, none twice"
    ids = [e[0] for e in resumed.events]
    assert last is not None and ids == sorted(ids) and all(i > last for i in ids if i)


@pytest.mark.parametrize("position", ["not-a-position", "7" * 32, "0" * 32 + "x" * 20_000])
async def test_a_bad_last_event_id_gets_a_reset_and_the_stream_goes_on(
    settings: EdgeSettings, db: psycopg.Connection[Any], position: str
) -> None:
    room = Classroom(db, 1)
    me = room.students[0]
    with served_edges(settings, env=FAST) as [url]:
        got = Received()
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
            task = asyncio.create_task(listen(http, url, me, got, last_event_id=position[:8000]))
            await wait_until(lambda: got.events, 3, "the first event")
            assert got.status == 200
            assert got.events[0][1] == "reset" and got.events[0][2]["reason"] in ("malformed", "future")
            room.mark(1, "present")
            await wait_until(lambda: got.of("attendance_update"), 3, "a live event after the reset")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_polling_returns_the_events_the_stream_sends_with_the_same_ids(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 2)
    me = room.students[0]
    with served_edges(settings, env=FAST) as [url]:
        async with httpx.AsyncClient() as http:
            start = (await http.get(f"{url}/api/students/events", headers=bearer(me))).json()["nextAfter"]
            async with streams(url, [me]) as got:
                for period, status in ((1, "present"), (2, "absent"), (3, "sick")):
                    room.mark(period, status)
                await wait_until(lambda: len(got[me].of("attendance_update")) == 3, 3, "three changes")
            page = (await http.get(f"{url}/api/students/events?after={start}", headers=bearer(me))).json()
    polled = [(e["id"], e["event"], e["data"]) for e in page["events"] if e["event"] == "attendance_update"]
    streamed = got[me].of("attendance_update")
    assert [e[0] for e in polled] == [e[0] for e in streamed]
    assert [e[2] for e in polled] == [e[2] for e in streamed]
    assert page["events"][-1]["event"] == "metrics_update" and page["events"][-1]["data"]["sickDays"] == 1


async def test_tickets_are_single_use_bound_to_their_user_and_expire(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 2)
    me, other = room.students
    redis = Redis.from_url(settings.redis_url)
    with served_edges(settings, env=FAST) as [url]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
            issued = (
                await http.post(f"{url}/api/students/notifications/sse/ticket", headers=bearer(me))
            ).json()
            assert issued["expiresIn"] == 60
            assert 55 <= redis.ttl(keys.sse_ticket(issued["ticket"])) <= 60
            got = Received()
            sse = f"{url}/api/students/notifications/sse?ticket={issued['ticket']}"
            task = asyncio.create_task(listen(http, url, me, got, headers={}))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with http.stream("GET", sse) as response:
                assert response.status_code == 200
                stream_lines = response.aiter_lines()
                lines: list[str] = []

                async def until_metrics_updates(count: int) -> None:
                    async with asyncio.timeout(10):
                        async for line in stream_lines:
                            lines.append(line)
                            if sum(seen.startswith("event: metrics_update") for seen in lines) >= count:
                                return

                # One mark at a time: the bridge sends one metrics_update per batch it reads, and
                # two marks read in one batch would be one update.
                room.mark(1, "absent", [me])
                await until_metrics_updates(1)
                room.mark(2, "absent", [other])
                await until_metrics_updates(2)
            text = "\n".join(lines)
            assert str(me) in text and f'"studentId":"{other}"' not in text, "the ticket's owner's stream"
            reused = await http.get(sse)
            assert reused.status_code == 401 and reused.json()["error"]["code"] == "AUTHENTICATION_ERROR"
            forged = await http.get(f"{url}/api/students/notifications/sse?ticket=forged")
            assert forged.status_code == 401
            expiring = (
                await http.post(f"{url}/api/students/notifications/sse/ticket", headers=bearer(me))
            ).json()
            redis.pexpire(keys.sse_ticket(expiring["ticket"]), 1)
            await asyncio.sleep(0.05)
            expired = await http.get(f"{url}/api/students/notifications/sse?ticket={expiring['ticket']}")
            assert expired.status_code == 401


async def test_too_many_streams_are_refused_before_streaming(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 1)
    me = room.students[0]
    limits = '{"sse_connections": [2, 60], "sse_tickets": [1, 60]}'
    with served_edges(settings, env={**FAST, "RATE_LIMITS": limits}) as [url]:
        async with streams(url, [me]), streams(url, [me]):
            async with httpx.AsyncClient() as http:
                third = await http.get(f"{url}/api/students/notifications/sse", headers=bearer(me))
                assert third.status_code == 429
                assert third.headers["Content-Type"].startswith("application/json")
                assert third.json()["error"]["retryAfter"] >= 1
                ticket = "/api/students/notifications/sse/ticket"
                assert (await http.post(f"{url}{ticket}", headers=bearer(me))).status_code == 201
                assert (await http.post(f"{url}{ticket}", headers=bearer(me))).status_code == 429


async def test_a_stream_ends_when_its_token_expires(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 1)
    me = room.students[0]
    with served_edges(settings, env=FAST) as [url]:
        got = Received()
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
            headers = {"Authorization": f"Bearer {token(me, ttl=2)}"}
            task = asyncio.create_task(listen(http, url, me, got, headers=headers))
            await wait_until(lambda: got.last_id is not None, 3, "the stream opens")
            await wait_until(got.closed.is_set, 5, "the stream ends after its token's expiry")
            await task


async def test_sigterm_ends_every_stream_within_two_seconds_and_the_process_exits(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 3)
    with served_edges(settings, env=FAST) as edges:
        async with streams(edges[0], room.students) as got:
            started = time.monotonic()
            edges.procs[0].send_signal(signal.SIGTERM)
            await wait_until(lambda: all(r.closed.is_set() for r in got.values()), 2.0, "every stream ends")
            assert time.monotonic() - started < 2.0
        await asyncio.to_thread(edges.procs[0].wait, 10)
        assert edges.procs[0].returncode is not None


async def test_a_reader_that_does_not_read_is_cut_off_and_a_fast_one_is_not(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    """The slow client stops reading after the response head; its queue overflows and the
    server closes its connection. A client reading the same volume keeps its stream."""
    room = Classroom(db, 2)
    slow_student, fast_student = room.students
    redis = Redis.from_url(settings.redis_url)
    with served_edges(settings, env=FAST) as [url]:
        host, port = url.removeprefix("http://").split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        writer.write(
            f"GET /api/students/notifications/sse HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token(slow_student)}\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        async with streams(url, [fast_student]) as got:
            await wait_until(lambda: redis.zcard(keys.SSE_CONNECTIONS) == 2, 3, "two streams")
            start = dt.date(2000, 1, 3)
            for week in range(400):
                if (await _metrics(url))["edge_sse_streams"] < 2:
                    break
                first = start + dt.timedelta(weeks=week)
                db.execute(
                    "insert into app.attendance_records"
                    " (student_id, class_id, date, period, subject, status, marked_by)"
                    " select s, %s, d::date, p, 'Maths', 'present', %s"
                    " from unnest(%s::uuid[]) s, generate_series(%s::date, %s::date, '1 day') d,"
                    " generate_series(1, 12) p",
                    (room.class_id, room.teacher, room.students, first, first + dt.timedelta(days=6)),
                )
            else:
                pytest.fail("the reader that does not read was never cut off")
            await wait_until(
                lambda: redis.zcard(keys.SSE_CONNECTIONS) == 1, 3, "the slow stream's record gone"
            )
            assert not got[fast_student].closed.is_set(), "the fast reader keeps its stream"
            assert len(got[fast_student].of("attendance_update")) > 1000

        # The server closed the slow connection: reading what is left ends.
        async def drain() -> None:
            while await reader.read(65536):
                pass

        await asyncio.wait_for(drain(), 10)
        writer.close()


def _newest_position(db: psycopg.Connection[Any]) -> str:
    row = db.execute(
        "select app.event_position(horizon, id) from app.events order by horizon desc, id desc limit 1"
    ).fetchone()
    assert row is not None
    return str(row[0])


async def test_a_dropped_listen_connection_or_a_missed_notification_loses_no_event(
    app: Quart, db: psycopg.Connection[Any]
) -> None:
    room = Classroom(db, 1)
    await settle(app)
    bridge = app.extensions["edge"].bridge
    dropped = db.execute(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = %s",
        (APPLICATION_NAME,),
    ).fetchone()
    assert dropped == (1,)
    room.mark(1, "absent")
    newest = _newest_position(db)
    await wait_until(lambda: (bridge.cursor or "") >= newest, 5, "the reconnected bridge reads the mark")
    await wait_until(lambda: bridge.connected, 5, "the bridge reconnects")

    # An event whose NOTIFY never came (written here without one): the next poll finds it.
    db.execute(
        "insert into app.events (horizon, topic, student_id, class_id, payload)"
        " select greatest(pg_snapshot_xmax(pg_current_snapshot()), pg_current_xact_id()),"
        " 'reset', %s, %s, '{}'",
        (room.students[0], room.class_id),
    )
    newest = _newest_position(db)
    took = await wait_until(lambda: (bridge.cursor or "") >= newest, 3, "a poll finds the silent event")
    assert took <= bridge.poll_s + 0.5


async def test_a_student_moved_to_another_class_follows_the_new_class_from_the_next_connection(
    settings: EdgeSettings, db: psycopg.Connection[Any]
) -> None:
    old, new = Classroom(db, 2), Classroom(db, 1)
    mover, stayer = old.students
    db.execute("update app.students set class_id = %s where id = %s", (new.class_id, mover))
    with served_edges(settings, env=FAST) as [url]:
        async with streams(url, [mover]) as got:
            old.mark(1, "absent", [stayer])
            new.mark(1, "absent", new.students)
            await wait_until(lambda: got[mover].of("metrics_update"), 3, "the new class's change")
            await asyncio.sleep(0.5)
            (update,) = got[mover].of("metrics_update")
            assert update[2]["classId"] == str(new.class_id)
            assert got[mover].of("attendance_update") == []


async def test_a_stream_whose_request_carried_a_body_still_ends_when_the_client_leaves(
    app: Quart, db: psycopg.Connection[Any]
) -> None:
    """A GET to the stream with 200 KiB of body nobody reads: the connection still reads on,
    sees the client leave, and the stream is closed and forgotten."""
    room = Classroom(db, 1)
    me = room.students[0]
    hub = app.extensions["edge"].hub
    body = b"x" * 200 * 1024
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[i : i + 65536], "more_body": i + 65536 < len(body)}
        for i in range(0, len(body), 65536)
    ]
    streaming = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await streaming.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            streaming.set()

    scope = http_scope(
        "GET", "/api/students/notifications/sse", {**bearer(me), "Content-Length": str(len(body))}
    )
    request = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
    await asyncio.wait_for(streaming.wait(), 10)
    await asyncio.wait_for(request, 5)
    await wait_until(lambda: len(hub) == 0, 2.0, "the stream to be forgotten")
