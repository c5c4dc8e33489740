"""The scan task on real worker processes with a real clamd (the project's custom EICAR
signatures): clean files pass, every hostile sample the issue names is quarantined with its
URLs revoked, its owner notified and the quarantine audited; a scan that cannot reach clamd is
retried and finally quarantined; a deleted certificate's object is removed."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from db.cluster import free_port
from tests import samples
from tests.db.helpers import School, call_as, wait_for
from tests.jobs.conftest import Workers

EXTENSION = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def register(
    db: psycopg.Connection[Any], storage: Path, student: uuid.UUID, content: bytes, content_type: str
) -> str:
    """What the edge does after streaming an upload: the object under its generated name, then
    app.register_certificate as the student (the row and its scan job)."""
    file_id = str(uuid.uuid4())
    stored_name = f"{file_id}.{EXTENSION[content_type]}"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / stored_name).write_bytes(content)
    call_as(
        db,
        student,
        "select app.register_certificate(%s, %s, null, %s, %s, %s, %s)",
        (
            file_id,
            f"upload.{EXTENSION[content_type]}",
            content_type,
            len(content),
            hashlib.sha256(content).hexdigest(),
            stored_name,
        ),
    )
    return file_id


def verdict(db: psycopg.Connection[Any], file_id: str, timeout: float = 30) -> dict[str, Any]:
    def decided() -> bool:
        row = db.execute("select status from app.medical_certificates where id = %s", (file_id,)).fetchone()
        return row is not None and row[0] in ("clean", "quarantined")

    wait_for(decided, timeout, f"the scan of {file_id}")
    row = db.execute(
        "select status, scan_result, url_version, student_id from app.medical_certificates where id = %s",
        (file_id,),
    ).fetchone()
    assert row is not None
    return {"status": row[0], "scan": row[1], "version": row[2], "student": row[3]}


@pytest.fixture
def school(db: psycopg.Connection[Any]) -> School:
    return School(db, students=2)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    return tmp_path / "storage"


HOSTILE = {
    "eicar in a pdf": (samples.pdf_with_eicar(), "application/pdf", {"Builtin.Test.EICAR"}),
    "openaction javascript": (
        samples.pdf_with_open_action(),
        "application/pdf",
        {"Builtin.PDF.OpenAction", "Builtin.PDF.JavaScript"},
    ),
    "openaction hidden with #xx": (
        samples.pdf_with_open_action(escaped=True),
        "application/pdf",
        {"Builtin.PDF.OpenAction", "Builtin.PDF.JavaScript"},
    ),
    "png with a trailing zip": (
        samples.png_with_payload(),
        "image/png",
        {"Builtin.Image.TrailingData", "Builtin.Image.EmbeddedZip"},
    ),
    "jpeg with a pdf after its end": (
        samples.jpeg() + samples.pdf(),
        "image/jpeg",
        {"Builtin.Image.TrailingData", "Builtin.Image.EmbeddedPDF"},
    ),
    "png that does not decode": (samples.png()[:60], "image/png", {"Builtin.Image.Malformed"}),
}


@pytest.mark.slow
def test_clean_files_pass_and_hostile_ones_are_quarantined_revoked_notified_and_audited(
    db: psycopg.Connection[Any], school: School, storage: Path, workers: Workers, clamd_url: str
) -> None:
    owner = school.students[0]
    clean = {
        "pdf": register(db, storage, owner, samples.pdf(), "application/pdf"),
        "png": register(db, storage, owner, samples.png(), "image/png"),
        "jpeg": register(db, storage, owner, samples.jpeg(), "image/jpeg"),
    }
    hostile = {name: register(db, storage, owner, c, t) for name, (c, t, _) in HOSTILE.items()}
    workers.start(STORAGE_DIR=str(storage), CLAMD_URL=clamd_url)

    for name, file_id in clean.items():
        result = verdict(db, file_id)
        assert result["status"] == "clean", (name, result)
        assert result["scan"]["clean"] is True and result["scan"]["threats"] == []
        assert result["scan"]["engines"] == ["builtin", "clamd"]
        assert result["version"] == 1
    for name, file_id in hostile.items():
        result = verdict(db, file_id)
        assert result["status"] == "quarantined", (name, result)
        assert set(result["scan"]["threats"]) >= HOSTILE[name][2], (name, result)
        assert result["version"] == 2, "quarantine moves the URL version"
    # The real clamd saw EICAR through INSTREAM with the custom signature.
    assert (
        "Clamd.Attendance.Test.EICAR.UNOFFICIAL" in verdict(db, hostile["eicar in a pdf"])["scan"]["threats"]
    )
    notes = db.execute(
        "select metadata->>'fileId' from app.notifications where student_id = %s and type = 'file_rejected'",
        (owner,),
    ).fetchall()
    assert sorted(n[0] for n in notes) == sorted(hostile.values())
    audited = db.execute(
        "select resource_id, user_id from audit.audit_logs where action = 'file_quarantine'"
    ).fetchall()
    assert sorted(audited) == sorted((f, owner) for f in hostile.values())


@pytest.mark.slow
def test_bytes_changed_in_storage_are_quarantined(
    db: psycopg.Connection[Any], school: School, storage: Path, workers: Workers
) -> None:
    file_id = register(db, storage, school.students[0], samples.pdf(), "application/pdf")
    (storage / f"{file_id}.pdf").write_bytes(samples.pdf("something else"))
    workers.start(STORAGE_DIR=str(storage))
    result = verdict(db, file_id)
    assert result["status"] == "quarantined"
    assert result["scan"]["threats"] == ["Worker.Integrity.Changed"]
    assert result["scan"]["engines"] == ["builtin"]


@pytest.mark.slow
def test_a_scan_that_cannot_reach_clamd_is_retried_then_quarantined(
    db: psycopg.Connection[Any], school: School, storage: Path, workers: Workers
) -> None:
    file_id = register(db, storage, school.students[0], samples.pdf(), "application/pdf")
    workers.start(
        STORAGE_DIR=str(storage),
        CLAMD_URL=f"tcp://127.0.0.1:{free_port()}",
        CLAMD_TIMEOUT_S="1",
        JOBS_ATTEMPTS="3",
    )
    result = verdict(db, file_id)
    assert result["status"] == "quarantined"
    assert result["scan"]["threats"] == ["Worker.ScanFailed"]
    dead = db.execute("select message->>'task', (message->>'attempts')::int from pgmq.q_jobs_dead").fetchall()
    assert dead == [("file_scan", 3)]


@pytest.mark.slow
def test_a_deleted_certificate_loses_its_object_and_its_scan_does_nothing(
    db: psycopg.Connection[Any], school: School, storage: Path, workers: Workers
) -> None:
    owner = school.students[0]
    file_id = register(db, storage, owner, samples.pdf(), "application/pdf")
    call_as(db, owner, "select api.delete_certificate(%s)", (file_id,))
    workers.start(STORAGE_DIR=str(storage))
    wait_for(lambda: not (storage / f"{file_id}.pdf").exists(), 30, "the object to be removed")
    wait_for(
        lambda: (
            db.execute("select count(*) from pgmq.q_jobs_normal").fetchone() == (0,)
            and db.execute("select count(*) from pgmq.q_jobs_low").fetchone() == (0,)
        ),
        30,
        "both jobs to be done",
    )
    assert db.execute("select count(*) from pgmq.q_jobs_dead").fetchone() == (0,)
    assert db.execute(
        "select count(*) from audit.audit_logs where action = 'file_quarantine'"
    ).fetchone() == (0,)
