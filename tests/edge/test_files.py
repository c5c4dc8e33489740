"""Certificates at the edge: upload (P22, P31), signed downloads (P32) and their revocation, the
files API under RLS, review, and every bad input the issue names, each refused in the
ErrorResponse shape, audited, with nothing stored or served."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import re
import stat
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from db.cluster import free_port
from db.seed import SeedResult
from edge import file_urls
from edge.settings import EdgeSettings
from edge.storage import LocalBackend
from tests import samples
from tests.edge.conftest import bearer, http_scope, served_edges

UPLOAD = "/api/students/files/upload"


async def upload(
    client: Client, user: Any, name: str, content: bytes, description: str | None = None
) -> tuple[int, dict[str, Any]]:
    parts: list[tuple[str, str | None, bytes]] = [("file", name, content)]
    if description is not None:
        parts.append(("description", None, description.encode()))
    body, content_type = samples.multipart(parts)
    response = await client.post(UPLOAD, data=body, headers={**bearer(user), "Content-Type": content_type})
    return response.status_code, await response.get_json()


def stored(settings: EdgeSettings) -> list[Path]:
    root = Path(settings.storage_dir)
    return sorted(root.iterdir()) if root.exists() else []


def uploads_audited(db: psycopg.Connection[Any], user: Any) -> list[tuple[Any, ...]]:
    return db.execute(
        "select metadata, success, error_message from audit.audit_logs"
        " where action = 'file_upload' and user_id = %s order by timestamp",
        (user,),
    ).fetchall()


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def scan_clean(db: psycopg.Connection[Any], file_id: str) -> None:
    """What the worker does for a file whose scan finds nothing (jobs/tasks/files.py)."""
    db.execute("select app.begin_certificate_scan(%s)", (file_id,))
    db.execute("select app.finish_certificate_scan(%s, '{}', '{builtin}')", (file_id,))


async def link(client: Client, user: Any, file_id: str) -> str:
    """The file's signed URL as its metadata gives it now (a path, for the test client)."""
    response = await client.get(f"/api/students/files/{file_id}", headers=bearer(user))
    url = (await response.get_json())["signedUrl"]
    assert url, "the file has no download URL"
    return path_of(url)


def forged(settings: EdgeSettings, file_id: str, version: int = 1) -> str:
    """A correctly signed URL for a file and version, whether or not the edge would give one."""
    now = dt.datetime.now(dt.UTC).timestamp()
    return path_of(file_urls.signed_url("http://x", settings.signing_key(), file_id, version, now))


async def test_a_refused_upload_is_audited_with_what_was_known(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    status, body = await upload(client, me, "scan.pdf", samples.png())
    assert status == 415
    assert body["error"]["message"] == "The file's content is image/png but its name has .pdf; use .png."
    [(metadata, success, _)] = uploads_audited(db, me)
    assert success is False
    assert metadata["fileName"] == "scan.pdf" and metadata["type"] == "image/png"
    assert metadata["size"] == len(samples.png())


async def test_an_upload_is_stored_queued_for_a_scan_and_audited(
    client: Client, school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    content = samples.pdf("Dr. Karimova: sick 3-5 March")
    status, body = await upload(client, me, "sick note.pdf", content, description="flu, 3 days")
    assert status == 201, body
    sha = hashlib.sha256(content).hexdigest()
    assert body["fileName"] == "sick note.pdf" and body["fileSize"] == len(content)
    assert body["fileType"] == "application/pdf" and body["status"] == "pending"
    assert body["sha256"] == sha and body["description"] == "flu, 3 days"
    assert body["studentId"] == str(me)
    # P31: the row and its scan job, in the same transaction.
    row = db.execute(
        "select student_id, status, stored_name, size_bytes, sha256"
        " from app.medical_certificates where id = %s",
        (body["fileId"],),
    ).fetchone()
    assert row is not None and row[:2] == (me, "pending") and row[3:] == (len(content), sha)
    jobs = db.execute(
        "select message from pgmq.q_jobs_normal where message->>'task' = 'file_scan'"
    ).fetchall()
    assert [j[0]["fileId"] for j in jobs] == [body["fileId"]]
    # Stored under the generated name, readable only by the service's user.
    [path] = stored(settings)
    assert path.name == row[2] == f"{body['fileId']}.pdf"
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # P22: name, size, type and status (the entry's own timestamp is the upload's).
    [(metadata, success, _)] = uploads_audited(db, me)
    assert success is True
    assert metadata == {
        "fileName": "sick note.pdf",
        "size": len(content),
        "type": "application/pdf",
        "sha256": sha,
        "status": "pending",
    }
    # No download URL before the scan has passed; then one valid for 24 hours (P32).
    assert body["signedUrl"] is None and body["signedUrlExpiresAt"] is None
    scan_clean(db, body["fileId"])
    response = await client.get(f"/api/students/files/{body['fileId']}", headers=bearer(me))
    scanned = await response.get_json()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(scanned["signedUrl"]).query)
    expires = int(query["expires"][0])
    now = dt.datetime.now(dt.UTC).timestamp()
    assert abs(expires - (now + 24 * 3600)) < 5
    assert dt.datetime.fromisoformat(scanned["signedUrlExpiresAt"]).timestamp() == expires


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("scan.png", samples.png()),
        ("scan.JPG", samples.jpeg()),
        ("scan.jpeg", samples.jpeg()),
        ("справка.pdf", samples.pdf()),
    ],
)
async def test_every_allowed_type_with_its_extensions(
    client: Client, school: SeedResult, name: str, content: bytes
) -> None:
    status, body = await upload(client, school.demo_student_id, name, content)
    assert status == 201, body
    assert body["fileName"] == name


async def test_the_signed_url_downloads_the_file_as_an_attachment_and_is_audited(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    content = samples.png()
    _, body = await upload(client, me, "x-ray «left».png", content)
    scan_clean(db, body["fileId"])
    response = await client.get(await link(client, me, body["fileId"]))
    assert response.status_code == 200
    assert await response.get_data(as_text=False) == content
    headers = response.headers
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    assert headers["Content-Disposition"].startswith("attachment; ")
    assert "filename*=UTF-8''x-ray%20%C2%ABleft%C2%BB.png" in headers["Content-Disposition"]
    assert headers["Cache-Control"] == "private, no-store"
    entry = db.execute(
        "select metadata, success, resource_id, user_id from audit.audit_logs where action = 'file_download'"
    ).fetchone()
    assert entry is not None and entry[1:] == (True, body["fileId"], None), "a link names no user"
    assert entry[0] == {
        "fileName": "x-ray «left».png",
        "studentId": str(me),
        "size": len(content),
        "status": "clean",
    }


async def test_a_file_is_not_served_before_its_scan_has_passed(
    client: Client, school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    """Even with a correctly signed URL: pending, then scanning, then served once clean."""
    me = school.demo_student_id
    _, body = await upload(client, me, "a.pdf", samples.pdf())
    url = forged(settings, body["fileId"])
    assert (await client.get(url)).status_code == 403
    db.execute("select app.begin_certificate_scan(%s)", (body["fileId"],))
    assert (await client.get(url)).status_code == 403
    db.execute("select app.finish_certificate_scan(%s, '{}', '{builtin}')", (body["fileId"],))
    assert (await client.get(url)).status_code == 200
    reasons = db.execute(
        "select metadata->>'reason' from audit.audit_logs"
        " where action = 'file_download' and not success order by timestamp"
    ).fetchall()
    assert reasons == [("file pending",), ("file scanning",)]


async def test_changed_expired_and_revoked_links_are_refused(
    client: Client, school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    _, first = await upload(client, me, "a.pdf", samples.pdf("a"))
    _, second = await upload(client, me, "b.pdf", samples.pdf("b"))
    for file in (first, second):
        scan_clean(db, file["fileId"])
    first["signedUrl"] = await link(client, me, first["fileId"])
    url = urllib.parse.urlsplit(first["signedUrl"])
    query = urllib.parse.parse_qs(url.query)
    expires, sig = int(query["expires"][0]), query["sig"][0]
    key = settings.signing_key()
    version = 1
    past = dt.datetime.now(dt.UTC).timestamp() - 25 * 3600
    expired = urllib.parse.urlsplit(file_urls.signed_url("http://x", key, first["fileId"], version, past))
    refused = {
        "changed id": f"/files/{second['fileId']}?expires={expires}&sig={sig}",
        "changed expiry": f"/files/{first['fileId']}?expires={expires + 3600}&sig={sig}",
        "expired": f"{expired.path}?{expired.query}",
        "unknown file": f"/files/{uuid.uuid4()}?expires={expires}&sig={sig}",
    }
    for what, path in refused.items():
        response = await client.get(path)
        body = await response.get_json()
        assert response.status_code == 403, what
        assert body["error"]["code"] == "PERMISSION_ERROR", what
    # Revoked at once when the version moves (quarantine, rejection).
    assert (await client.get(path_of(first["signedUrl"]))).status_code == 200
    db.execute(
        "update app.medical_certificates set url_version = url_version + 1 where id = %s", (first["fileId"],)
    )
    assert (await client.get(path_of(first["signedUrl"]))).status_code == 403
    failures = db.execute(
        "select count(*) from audit.audit_logs where action = 'file_download' and not success"
    ).fetchone()
    assert failures == (len(refused) + 1,)


async def test_malformed_links_are_refused_and_audited_without_their_signature(
    client: Client, school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    _, body = await upload(client, me, "a.pdf", samples.pdf())
    scan_clean(db, body["fileId"])
    good = urllib.parse.urlsplit(await link(client, me, body["fileId"]))
    query = urllib.parse.parse_qs(good.query)
    expires, sig = query["expires"][0], query["sig"][0]
    malformed = {
        "id": f"/files/not-a-file?expires={expires}&sig={sig}",
        "expires": f"{good.path}?expires=soon&sig={sig}",
        "sig": f"{good.path}?expires={expires}&sig={sig[:-1]}",
        "added parameter": f"{good.path}?expires={expires}&sig={sig}&as=admin",
    }
    for what, path in malformed.items():
        response = await client.get(path)
        assert response.status_code == 400, what
    entries = db.execute(
        "select resource_id, metadata, error_message from audit.audit_logs"
        " where action = 'file_download' and not success order by timestamp"
    ).fetchall()
    assert [e[1]["reason"] for e in entries] == ["malformed link"] * len(malformed)
    assert [e[0] for e in entries] == [None, body["fileId"], body["fileId"], body["fileId"]]
    assert not any(sig[:20] in str(e) for e in entries), "a signature is never recorded"


async def test_a_deleted_file_is_gone_and_its_link_dead(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    _, body = await upload(client, me, "a.pdf", samples.pdf())
    scan_clean(db, body["fileId"])
    url = await link(client, me, body["fileId"])
    response = await client.delete(f"/api/students/files/{body['fileId']}", headers=bearer(me))
    assert response.status_code == 200, await response.get_json()
    assert await response.get_json() == {"fileId": body["fileId"], "deleted": True}
    assert (await client.get(url)).status_code == 403
    # Audited once, in the deleting transaction (a delete through PostgREST is audited too).
    deletions = db.execute(
        "select user_id, resource_id, metadata->>'fileName', success from audit.audit_logs"
        " where action = 'file_delete'"
    ).fetchall()
    assert deletions == [(me, body["fileId"], "a.pdf", True)]
    assert (await client.get(f"/api/students/files/{body['fileId']}", headers=bearer(me))).status_code == 404
    job = db.execute("select message from pgmq.q_jobs_low where message->>'task' = 'file_delete'").fetchone()
    assert job is not None and job[0]["storedName"] == f"{body['fileId']}.pdf"


ONE_PDF = samples.pdf()


@pytest.mark.parametrize(
    ("name", "content", "status", "field"),
    [
        ("virus.pdf", samples.executable(), 415, "file"),
        ("scan.png", ONE_PDF, 415, "file"),
        ("scan", ONE_PDF, 415, "file"),
        ("../../etc/passwd.pdf", ONE_PDF, 400, "file"),
        # A quoted backslash (a bare one is a quoted-pair escape in the header).
        ("a\\\\b.pdf", ONE_PDF, 400, "file"),
        ("nul\x00.pdf", ONE_PDF, 400, "file"),
        ("tab\t.pdf", ONE_PDF, 400, "file"),
        ("fdp.\u202ereadme.pdf", ONE_PDF, 400, "file"),
        ("n" * 296 + ".pdf", ONE_PDF, 400, "file"),
        ("empty.pdf", b"", 400, "file"),
        ("eicar.pdf", samples.EICAR, 415, "file"),
    ],
)
async def test_bad_files_are_refused_audited_and_nothing_is_kept(
    client: Client,
    school: SeedResult,
    db: psycopg.Connection[Any],
    settings: EdgeSettings,
    name: str,
    content: bytes,
    status: int,
    field: str,
) -> None:
    me = school.demo_student_id
    got, body = await upload(client, me, name, content)
    assert got == status, body
    assert body["error"]["field"] == field
    assert set(body["error"]) >= {"code", "message", "timestamp", "requestId"}
    assert stored(settings) == []
    assert db.execute("select count(*) from app.medical_certificates").fetchone() == (0,)
    assert db.execute(
        "select count(*) from pgmq.q_jobs_normal where message->>'task' = 'file_scan'"
    ).fetchone() == (0,)
    [(metadata, success, error)] = uploads_audited(db, me)
    assert success is False and error == body["error"]["message"]
    assert metadata["status"] == "refused" and metadata["httpStatus"] == status
    assert metadata["fileName"] in (name, None)


def post_served(base: str, user: Any, body: bytes | Any, content_type: str, **headers: str) -> httpx.Response:
    """An upload to a served edge; `body` as bytes (declared length) or chunks (chunked)."""
    return httpx.post(
        f"{base}{UPLOAD}",
        content=body,
        headers={**bearer(user), "Content-Type": content_type, **headers},
        timeout=60,
    )


def chunks_of(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.slow
def test_on_a_served_edge_size_limits_hold_for_declared_and_chunked_bodies(
    school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    limit = 10 * 1024 * 1024
    over, over_type = samples.multipart([("file", "big.pdf", samples.pdf(pad_to=limit + 1))])
    exact, exact_type = samples.multipart([("file", "exact.pdf", samples.pdf(pad_to=limit))])
    with served_edges(settings, RATE_LIMITS='{"upload": [100, 3600]}') as edges:
        declared = post_served(edges[0], me, over, over_type)
        chunked = post_served(edges[0], me, chunks_of(over), over_type)
        for response in (declared, chunked):
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        # A declared length far over the limit is refused before the body is read, and audited.
        huge = asyncio.run(raw_upload(edges[0], me, over_type, 50 * limit, b"x" * 1024))
        assert huge.startswith(b"HTTP/1.1 413 "), huge
        # Exactly the limit is accepted, declared and chunked.
        first = post_served(edges[0], me, exact, exact_type)
        assert first.status_code == 201, first.text
        assert post_served(edges[0], me, chunks_of(exact), exact_type).status_code == 201
    assert stored_sizes(settings) == [limit, limit]
    assert db.execute("select count(*) from app.medical_certificates").fetchone() == (2,)
    refused = [m for m, success, _ in uploads_audited(db, me) if not success]
    assert [m["httpStatus"] for m in refused] == [413, 413, 413]
    assert [m.get("size", 0) > limit for m in refused] == [True, True, False], "the huge body was never read"


async def raw_upload(base: str, user: Any, content_type: str, declared: int, sent: bytes) -> bytes:
    """Send a request head declaring `declared` bytes and then only `sent`; what the edge answers."""
    port = int(base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer(user)['Authorization']}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    try:
        head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(re.search(rb"(?i)content-length: *(\d+)", head_bytes).group(1))  # type: ignore[union-attr]
        return head_bytes + await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()


def stored_sizes(settings: EdgeSettings) -> list[int]:
    return [path.stat().st_size for path in stored(settings)]


@pytest.mark.slow
async def test_on_a_served_edge_a_stalled_body_times_out_and_nothing_is_kept(
    school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    body, content_type = samples.multipart([("file", "slow.pdf", samples.pdf(pad_to=200_000))])
    with served_edges(settings, UPLOAD_STALL_S="1") as edges:
        started = time.monotonic()
        answer = await raw_upload(edges[0], me, content_type, len(body), body[:100_000])
        waited = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 ", answer
    assert b'"code":"REQUEST_TIMEOUT"' in rest
    assert 0.9 <= waited < 5
    assert stored(settings) == []
    [(metadata, success, _)] = uploads_audited(db, me)
    assert success is False and metadata["httpStatus"] == 408


@pytest.mark.slow
async def test_on_a_served_edge_a_trickling_body_meets_the_upload_deadline(
    school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    """A client that never stalls long enough for the stall limit is still cut off."""
    me = school.demo_student_id
    body, content_type = samples.multipart([("file", "slow.pdf", samples.pdf(pad_to=200_000))])
    with served_edges(settings, UPLOAD_STALL_S="1", UPLOAD_DEADLINE_S="2") as edges:
        port = int(edges[0].rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer(me)['Authorization']}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        started = time.monotonic()
        writer.write(head.encode())
        answer = b""
        try:
            for start in range(0, len(body), 1024):
                writer.write(body[start : start + 1024])
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(65536), 0.3)
                except TimeoutError:
                    continue
                if answer:
                    break
            waited = time.monotonic() - started
            while more := await asyncio.wait_for(reader.read(65536), 5):
                answer += more
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"The upload took longer than 2 s." in answer
    assert 1.9 <= waited < 6
    assert stored(settings) == []
    [(metadata, success, _)] = uploads_audited(db, me)
    assert success is False and metadata["httpStatus"] == 408


async def test_a_client_that_leaves_once_its_body_is_sent_still_gets_its_file_registered(
    app: Quart, school: SeedResult, db: psycopg.Connection[Any], settings: EdgeSettings
) -> None:
    """The body is whole when the client disconnects, during the commit to storage (hypercorn
    then cancels the view): the file, its row and its audit entry are all there, or none."""
    me = school.demo_student_id
    body, content_type = samples.multipart([("file", "note.pdf", ONE_PDF)])
    storage = app.extensions["edge"].storage
    committing, resume = asyncio.Event(), asyncio.Event()
    commit = storage.commit

    async def slow_commit(writer: Any) -> None:
        committing.set()
        await resume.wait()
        await commit(writer)

    storage.commit = slow_commit
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await committing.wait()
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope(
        "POST",
        UPLOAD,
        {**bearer(me), "Content-Type": content_type, "Content-Length": str(len(body))},
    )
    request = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
    await asyncio.wait_for(committing.wait(), 10)
    await asyncio.wait_for(request, 10)  # the view was cancelled: the client is gone
    assert not any(m["type"] == "http.response.start" and m["status"] == 201 for m in sent)
    resume.set()

    def registered() -> bool:
        return db.execute("select count(*) from app.medical_certificates").fetchone() == (1,)

    deadline = time.monotonic() + 10
    while not (registered() and uploads_audited(db, me)):
        assert time.monotonic() < deadline, "the upload was not finished"
        await asyncio.sleep(0.05)
    [(metadata, success, _)] = uploads_audited(db, me)
    assert success is True and metadata["status"] == "pending"
    [path] = stored(settings)
    assert path.read_bytes() == ONE_PDF


async def test_a_failed_local_commit_closes_its_file_once(tmp_path: Path) -> None:
    """The rename fails after the file was closed: aborting must not close that number again,
    which by then may be another file's or a socket's."""
    writer = await LocalBackend(tmp_path).writer("a.pdf", "application/pdf")
    await writer.write(ONE_PDF)
    (tmp_path / "a.pdf").mkdir()  # a directory holds the name: the rename fails
    with pytest.raises(IsADirectoryError):
        await writer.commit()
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT, 0o600)  # the lowest free number
    try:
        await writer.abort()
        os.fstat(other)
    finally:
        os.close(other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "other"]


async def test_a_file_id_is_a_whole_uuid(client: Client, school: SeedResult) -> None:
    me = school.demo_student_id
    _, body = await upload(client, me, "a.pdf", ONE_PDF)
    for suffix in ("%0A", "%0Ax", "0"):
        response = await client.get(f"/api/students/files/{body['fileId']}{suffix}", headers=bearer(me))
        answer = await response.get_json()
        assert response.status_code == 400, suffix
        assert "is not a file id" in answer["error"]["message"], suffix


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ([("other", "a.pdf", ONE_PDF)], "file"),
        ([("file", "a.pdf", ONE_PDF), ("file", "b.pdf", ONE_PDF)], "file"),
        ([("file", "a.pdf", ONE_PDF), ("extra", None, b"x")], "extra"),
        ([("description", None, b"x" * 5000), ("file", "a.pdf", ONE_PDF)], "description"),
        ([("description", None, b"\xff\xfe"), ("file", "a.pdf", ONE_PDF)], "description"),
        ([("description", None, b"only a description")], "file"),
        ([("file", None, ONE_PDF)], "file"),
    ],
)
async def test_forms_other_than_file_and_description_are_refused(
    client: Client, school: SeedResult, db: psycopg.Connection[Any], parts: Any, field: str
) -> None:
    body, content_type = samples.multipart(parts)
    response = await client.post(
        UPLOAD, data=body, headers={**bearer(school.demo_student_id), "Content-Type": content_type}
    )
    answer = await response.get_json()
    assert response.status_code == 400, answer
    assert answer["error"]["field"] == field
    assert db.execute("select count(*) from app.medical_certificates").fetchone() == (0,)


async def test_bodies_that_are_not_multipart_are_refused(client: Client, school: SeedResult) -> None:
    headers = bearer(school.demo_student_id)
    plain = await client.post(UPLOAD, data=ONE_PDF, headers={**headers, "Content-Type": "application/pdf"})
    assert plain.status_code == 415
    junk = b"x" * 100_000 + b"--b\r\n"
    padded = await client.post(
        UPLOAD, data=junk, headers={**headers, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert padded.status_code == 400
    assert (await padded.get_json())["error"][
        "message"
    ] == "The body does not start with a multipart boundary."


async def test_staff_cannot_upload_and_the_limit_is_ten_an_hour(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    status, body = await upload(client, school.demo_teacher_id, "a.pdf", ONE_PDF)
    assert status == 403, body
    [(metadata, success, _)] = uploads_audited(db, school.demo_teacher_id)
    assert success is False and metadata == {"status": "refused", "httpStatus": 403}
    me = school.demo_student_id
    for _ in range(10):
        assert (await upload(client, me, "a.pdf", ONE_PDF))[0] == 201
    status, body = await upload(client, me, "a.pdf", ONE_PDF)
    assert status == 429 and body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert db.execute("select count(*) from app.medical_certificates").fetchone() == (10,)


def another_class_teacher(db: psycopg.Connection[Any], student: Any) -> Any:
    row = db.execute(
        "select ct.teacher_id from app.class_teachers as ct"
        " where ct.class_id <> (select class_id from app.students where id = %s) limit 1",
        (student,),
    ).fetchone()
    assert row is not None
    return row[0]


def classmate(db: psycopg.Connection[Any], student: Any) -> Any:
    row = db.execute(
        "select id from app.students where class_id = (select class_id from app.students where id = %s)"
        " and id <> %s limit 1",
        (student, student),
    ).fetchone()
    assert row is not None
    return row[0]


async def test_who_sees_which_files(client: Client, school: SeedResult, db: psycopg.Connection[Any]) -> None:
    me = school.demo_student_id
    _, mine = await upload(client, me, "mine.pdf", ONE_PDF)
    other = classmate(db, me)
    _, theirs = await upload(client, other, "theirs.pdf", ONE_PDF)

    async def ids(user: Any, query: str = "") -> list[str]:
        response = await client.get(f"/api/students/files{query}", headers=bearer(user))
        assert response.status_code == 200, await response.get_json()
        return [f["fileId"] for f in (await response.get_json())["files"]]

    assert await ids(me) == [mine["fileId"]]
    assert await ids(me, f"?studentId={other}") == []
    assert sorted(await ids(school.demo_teacher_id)) == sorted([mine["fileId"], theirs["fileId"]])
    assert await ids(school.demo_teacher_id, f"?studentId={me}") == [mine["fileId"]]
    assert await ids(another_class_teacher(db, me)) == []
    assert sorted(await ids(school.admin_id)) == sorted([mine["fileId"], theirs["fileId"]])
    scan_clean(db, mine["fileId"])
    # One file: the owner, the class's teacher and an admin; 404 for anyone else.
    for user, status in [(me, 200), (school.demo_teacher_id, 200), (school.admin_id, 200), (other, 404)]:
        response = await client.get(f"/api/students/files/{mine['fileId']}", headers=bearer(user))
        assert response.status_code == status, user
        if status == 200:
            assert (await response.get_json())["signedUrl"].startswith("http")
    # Deleting: the owner or an admin; a teacher may see but not delete.
    response = await client.delete(
        f"/api/students/files/{mine['fileId']}", headers=bearer(school.demo_teacher_id)
    )
    assert response.status_code == 403
    response = await client.delete(f"/api/students/files/{mine['fileId']}", headers=bearer(other))
    assert response.status_code == 404
    response = await client.delete(f"/api/students/files/{theirs['fileId']}", headers=bearer(school.admin_id))
    assert response.status_code == 200


async def review(client: Client, user: Any, file_id: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/staff/files/{file_id}/review", json=body, headers=bearer(user))
    return response.status_code, await response.get_json()


async def test_review_by_the_class_teacher_of_a_clean_file_notifies_and_audits(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    teacher = school.demo_teacher_id
    _, first = await upload(client, me, "a.pdf", ONE_PDF)
    _, second = await upload(client, me, "b.pdf", ONE_PDF)
    # Not scanned yet: 409.
    status, body = await review(client, teacher, first["fileId"], decision="approve")
    assert status == 409 and body["error"]["code"] == "CONFLICT"
    for file in (first, second):
        scan_clean(db, file["fileId"])
    first_link = await link(client, me, first["fileId"])
    second_link = await link(client, me, second["fileId"])
    # A teacher of another class, the student, a bad decision, a rejection without a reason.
    stranger = another_class_teacher(db, me)
    # A teacher of another class cannot see the file: not found, as for an unknown id.
    assert (await review(client, stranger, first["fileId"], decision="approve"))[0] == 404
    refused = db.execute(
        "select resource_id, metadata->>'httpStatus' from audit.audit_logs"
        " where action = 'file_review' and not success and user_id = %s",
        (stranger,),
    ).fetchall()
    assert refused == [(first["fileId"], "404")]
    assert (await review(client, me, first["fileId"], decision="approve"))[0] == 403
    status, body = await review(client, teacher, first["fileId"], decision="maybe")
    assert status == 400 and body["error"]["field"] == "decision"
    status, body = await review(client, teacher, first["fileId"], decision="reject")
    assert status == 400 and "reason" in body["error"]["message"]
    assert (await review(client, teacher, str(uuid.uuid4()), decision="approve"))[0] == 404

    status, approved = await review(client, teacher, first["fileId"], decision="approve")
    assert status == 200 and approved["status"] == "approved" and approved["signedUrl"]
    status, rejected = await review(
        client, school.admin_id, second["fileId"], decision="reject", reason="Unreadable"
    )
    assert status == 200 and rejected["status"] == "rejected" and rejected["rejectionReason"] == "Unreadable"
    assert rejected["signedUrl"] is None
    # A rejection revokes the URLs handed out before; an approval does not.
    assert (await client.get(second_link)).status_code == 403
    assert (await client.get(first_link)).status_code == 200
    # Decided once.
    assert (await review(client, teacher, first["fileId"], decision="reject", reason="x"))[0] == 409
    notes = db.execute(
        "select type, in_app from app.notifications"
        " where student_id = %s and type like 'file_%%' order by created_at",
        (me,),
    ).fetchall()
    assert notes == [("file_approved", True), ("file_rejected", True)]
    reviews = db.execute(
        "select user_id, metadata->>'decision' from audit.audit_logs"
        " where action = 'file_review' and success order by timestamp"
    ).fetchall()
    assert reviews == [(teacher, "approve"), (school.admin_id, "reject")]
    # Every refused review was audited as one: the 409s, the 403s, the 400s and the 404.
    failures = db.execute(
        "select count(*) from audit.audit_logs where action = 'file_review' and not success"
    ).fetchone()
    assert failures == (7,)


async def test_file_updates_off_means_no_in_app_notice(
    client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    me = school.demo_student_id
    db.execute("update app.notification_preferences set file_updates = false where student_id = %s", (me,))
    _, body = await upload(client, me, "a.pdf", ONE_PDF)
    db.execute("update app.medical_certificates set status = 'clean'")
    assert (await review(client, school.demo_teacher_id, body["fileId"], decision="approve"))[0] == 200
    row = db.execute("select in_app from app.notifications where type = 'file_approved'").fetchone()
    assert row == (False,)
    emails = db.execute(
        "select count(*) from app.notification_deliveries as d"
        " join app.notifications as n on n.id = d.notification_id"
        " where n.type = 'file_approved' and d.channel = 'email'"
    ).fetchone()
    assert emails == (0,)


async def test_the_storage_breaker_answers_503_with_retry_after_and_lists_still_work(
    client: Client, school: SeedResult, settings: EdgeSettings
) -> None:
    me = school.demo_student_id
    _, kept = await upload(client, me, "a.pdf", ONE_PDF)
    # Storage breaks: its directory becomes something no file can be written into.
    root = Path(settings.storage_dir)
    for path in root.iterdir():
        path.unlink()
    root.rmdir()
    root.write_text("not a directory")
    try:
        for _ in range(5):
            status, body = await upload(client, me, "a.pdf", ONE_PDF)
            assert status == 503 and body["error"]["code"] == "SERVICE_UNAVAILABLE", body
        body_bytes, content_type = samples.multipart([("file", "a.pdf", ONE_PDF)])
        response = await client.post(
            UPLOAD, data=body_bytes, headers={**bearer(me), "Content-Type": content_type}
        )
        answer = await response.get_json()
        assert response.status_code == 503 and "circuit open" in answer["error"]["message"]
        assert 1 <= int(response.headers["Retry-After"]) <= 30
        assert answer["error"]["retryAfter"] == int(response.headers["Retry-After"])
        # Lists and metadata need no storage.
        listed = await client.get("/api/students/files", headers=bearer(me))
        assert listed.status_code == 200
        assert [f["fileId"] for f in (await listed.get_json())["files"]] == [kept["fileId"]]
        one = await client.get(f"/api/students/files/{kept['fileId']}", headers=bearer(me))
        assert one.status_code == 200
    finally:
        root.unlink()
        os.makedirs(root)


@pytest.mark.slow
async def test_the_worker_quarantines_an_uploaded_eicar_which_is_never_served(
    client: Client,
    school: SeedResult,
    db: psycopg.Connection[Any],
    settings: EdgeSettings,
    jobs_db_url: str,
    clamd_url: str,
    tmp_path: Path,
) -> None:
    me = school.demo_student_id
    _, infected = await upload(client, me, "note.pdf", samples.pdf_with_eicar())
    _, clean = await upload(client, me, "clean.pdf", samples.pdf())
    assert infected["status"] == "pending" and infected["signedUrl"] is None
    signed_while_pending = forged(settings, infected["fileId"])
    assert (await client.get(signed_while_pending)).status_code == 403
    env = {
        **os.environ,
        "DATABASE_URL": jobs_db_url,
        "STORAGE_DIR": settings.storage_dir,
        "CLAMD_URL": clamd_url,
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "JOBS_POLL_S": "0.2",
        "JOBS_METRICS_PORT": "",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = dict(db.execute("select id::text, status from app.medical_certificates").fetchall())
            if rows[infected["fileId"]] == "quarantined" and rows[clean["fileId"]] == "clean":
                break
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(15)
    assert (await client.get(signed_while_pending)).status_code == 403
    assert (await client.get(await link(client, me, clean["fileId"]))).status_code == 200
    response = await client.get(f"/api/students/files/{infected['fileId']}", headers=bearer(me))
    metadata = await response.get_json()
    assert metadata["status"] == "quarantined" and metadata["signedUrl"] is None
    assert "Clamd.Attendance.Test.EICAR.UNOFFICIAL" in metadata["scanResult"]["threats"]
    inbox = await (await client.get("/api/students/notifications", headers=bearer(me))).get_json()
    quarantined = [n for n in inbox["notifications"] if n["type"] == "file_rejected"]
    assert [n["metadata"]["fileId"] for n in quarantined] == [infected["fileId"]]
