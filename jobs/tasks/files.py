"""Certificate tasks: `file_scan` (normal priority) checks an uploaded file and records the
verdict; `file_delete` (low priority) removes the stored object of a deleted certificate.

A scan reads the object, checks that it is the bytes that were uploaded (sha256), runs the
built-in checks and, when configured, clamd. The verdict is recorded by
app.finish_certificate_scan: clean, or quarantined with the file's URLs revoked and its owner
notified, in one transaction. A repeated job (a redelivery after a crash) changes nothing once
the verdict is in. A scan that keeps failing (clamd away) is retried with backoff; a file whose
scan finally dies is quarantined rather than left looking harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import asyncpg

from jobs.scanning import Clamd, ClamdError, builtin_threats
from jobs.storage import MissingObjectError, StorageError, Store
from jobs.tasks import DONE, RELEASED, Job, Outcome, Task, log

SCAN_FAILED = "Worker.ScanFailed"
FINISH = "select app.finish_certificate_scan($1::uuid, $2::text[], $3::text[])"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class FileScan(Task):
    def __init__(self, pool: asyncpg.Pool, store: Store, clamd: Clamd | None) -> None:
        super().__init__(name="file_scan")
        self.db = pool
        self.store = store
        self.clamd = clamd

    @property
    def engines(self) -> list[str]:
        return ["builtin", "clamd"] if self.clamd else ["builtin"]

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            if self.stopping.is_set():
                outcomes.append(RELEASED)
                continue
            job.started = True
            try:
                outcomes.append(await self.scan(job))
            except (ClamdError, StorageError, OSError) as exc:
                outcomes.append(Outcome("retry", f"{type(exc).__name__}: {exc}"))
            except Exception as exc:  # noqa: BLE001 - one file's failure is that file's retry
                log.exception("jobs.file_scan_failed", msg_id=job.msg_id)
                outcomes.append(Outcome("retry", f"{type(exc).__name__}: {exc}"))
        return outcomes

    async def scan(self, job: Job) -> Outcome:
        file_id = job.payload.get("fileId")
        if not isinstance(file_id, str):
            return Outcome("dead", "a file_scan job names its fileId")
        facts = _json(await self.db.fetchval("select app.begin_certificate_scan($1::uuid)", file_id))
        if facts is None:  # deleted, or decided by an earlier delivery of this job
            return DONE
        try:
            data = await self.store.read(facts["storedName"])
        except MissingObjectError:
            threats = [f"{SCAN_FAILED}.MissingObjectError"]
        else:
            threats = await self.threats(data, facts)
        status = await self.db.fetchval(FINISH, file_id, threats, self.engines)
        log.info("jobs.file_scanned", file_id=file_id, status=status, threats=threats)
        return DONE

    async def threats(self, data: bytes, facts: dict[str, Any]) -> list[str]:
        found: list[str] = []
        if len(data) != facts["size"] or hashlib.sha256(data).hexdigest() != facts["sha256"]:
            found.append("Worker.Integrity.Changed")
        found += await asyncio.to_thread(builtin_threats, data, facts["contentType"])
        if self.clamd is not None:
            found += await self.clamd.scan(data)
        return sorted(set(found))

    async def on_dead(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        file_id = job.payload.get("fileId")
        if isinstance(file_id, str):
            await conn.execute(FINISH, file_id, [SCAN_FAILED], self.engines)

    async def close(self) -> None:
        await self.store.close()


class FileDelete(Task):
    def __init__(self, store: Store) -> None:
        super().__init__(name="file_delete")
        self.store = store

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            if self.stopping.is_set():
                outcomes.append(RELEASED)
                continue
            job.started = True
            name = job.payload.get("storedName")
            if not isinstance(name, str):
                outcomes.append(Outcome("dead", "a file_delete job names its storedName"))
                continue
            try:
                await self.store.delete(name)
                outcomes.append(DONE)
            except (StorageError, OSError, ValueError) as exc:
                outcomes.append(Outcome("retry", f"{type(exc).__name__}: {exc}"))
        return outcomes
