"""The Supabase Storage backend (storage3), tested against Supabase Storage's documented object
API as served by tests/storage_server.py (no Supabase stack runs here): uploads land in the
private bucket under the generated name with their type, downloads are fetched per request
behind the edge's own signed URL, the worker reads the object to scan it and removes it once its
certificate is deleted, and storage that is down trips the breaker while lists still work."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from db.cluster import free_port
from db.seed import SeedResult
from edge import create_app
from edge.settings import EdgeSettings
from tests import samples
from tests.db.helpers import wait_for
from tests.edge.conftest import bearer
from tests.edge.test_files import UPLOAD, link, scan_clean, upload

BUCKET = "medical-certificates"


@dataclass
class FakeStorage:
    url: str
    root: Path
    key: str
    proc: subprocess.Popen[bytes]

    def objects(self) -> list[str]:
        folder = self.root / BUCKET
        return (
            sorted(p.name for p in folder.iterdir() if not p.name.endswith(".type"))
            if folder.exists()
            else []
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def storage_api(tmp_path: Path) -> Iterator[FakeStorage]:
    port, key = free_port(), secrets.token_urlsafe(24)
    root = tmp_path / "supabase-storage"
    proc = subprocess.Popen([sys.executable, "-m", "tests.storage_server", str(port), str(root), key])

    def listening() -> bool:
        assert proc.poll() is None, "the storage API exited"
        return _listening(port)

    wait_for(listening, 20, "the storage API to listen")
    fake = FakeStorage(f"http://127.0.0.1:{port}", root, key, proc)
    yield fake
    if proc.poll() is None:
        fake.stop()


@pytest.fixture
async def supabase_client(settings: EdgeSettings, storage_api: FakeStorage) -> Any:
    conf = dataclasses.replace(settings, supabase_url=storage_api.url, supabase_service_key=storage_api.key)
    application: Quart = create_app(conf)
    async with application.test_app():
        yield application.test_client()


async def test_uploads_downloads_scans_and_deletes_go_through_supabase_storage(
    supabase_client: Client,
    storage_api: FakeStorage,
    school: SeedResult,
    db: psycopg.Connection[Any],
    settings: EdgeSettings,
    jobs_db_url: str,
    tmp_path: Path,
) -> None:
    client = supabase_client
    me = school.demo_student_id
    content = samples.png()
    status, body = await upload(client, me, "scan.png", content)
    assert status == 201, body
    name = f"{body['fileId']}.png"
    assert storage_api.objects() == [name]
    assert (storage_api.root / BUCKET / name).read_bytes() == content
    assert (storage_api.root / BUCKET / f"{name}.type").read_text() == "image/png"
    # Nothing was kept locally (the spool is gone).
    local = Path(settings.storage_dir)
    assert not local.exists() or [p for p in local.rglob("*") if p.is_file()] == []
    # The worker reads it from the bucket to scan it, and removes it once deleted.
    env = {
        **os.environ,
        "DATABASE_URL": jobs_db_url,
        "SUPABASE_URL": storage_api.url,
        "SUPABASE_SERVICE_ROLE_KEY": storage_api.key,
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "JOBS_POLL_S": "0.2",
        "JOBS_METRICS_PORT": "",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        await until(lambda: status_of(db, body["fileId"]) == "clean", "the scan")
        # The edge's own URL, fetched from Supabase per request (Supabase's URLs cannot be revoked).
        response = await client.get(await link(client, me, body["fileId"]))
        assert response.status_code == 200
        assert await response.get_data(as_text=False) == content
        deleted = await client.delete(f"/api/students/files/{body['fileId']}", headers=bearer(me))
        assert deleted.status_code == 200
        await until(lambda: storage_api.objects() == [], "the object's removal")
    finally:
        worker.terminate()
        worker.wait(15)


def status_of(db: psycopg.Connection[Any], file_id: str) -> str | None:
    row = db.execute("select status from app.medical_certificates where id = %s", (file_id,)).fetchone()
    return None if row is None else str(row[0])


async def until(predicate: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_storage_down_answers_503_with_retry_after_while_lists_work(
    supabase_client: Client, storage_api: FakeStorage, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    client = supabase_client
    me = school.demo_student_id
    status, kept = await upload(client, me, "a.pdf", samples.pdf())
    assert status == 201
    scan_clean(db, kept["fileId"])
    kept_link = await link(client, me, kept["fileId"])
    storage_api.stop()
    for attempt in range(5):
        status, body = await upload(client, me, "a.pdf", samples.pdf())
        assert status == 503, (attempt, body)
        assert body["error"]["retryAfter"] >= 1
    form, form_type = samples.multipart([("file", "a.pdf", samples.pdf())])
    response = await client.post(UPLOAD, data=form, headers={**bearer(me), "Content-Type": form_type})
    assert response.status_code == 503
    assert "circuit open" in (await response.get_json())["error"]["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    # A download needs storage too: 503, not a broken body.
    assert (await client.get(kept_link)).status_code == 503
    listed = await client.get("/api/students/files", headers=bearer(me))
    assert listed.status_code == 200
    assert [f["fileId"] for f in (await listed.get_json())["files"]] == [kept["fileId"]]
