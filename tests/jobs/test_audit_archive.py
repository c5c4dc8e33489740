"""Audit archival (P25): a month past 90 days is detached, written to a compressed file with a
manifest by the worker, read back, and only then dropped; a worker killed anywhere resumes
without loss or duplicates."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.db.helpers import call_as, wait_for
from tests.jobs.conftest import Workers

NOW = "2026-11-30T12:00:00Z"


def old_month(db: psycopg.Connection[Any], month: str, rows: int) -> set[str]:
    """`rows` audit entries in `month` (YYYY-MM), some with commas, quotes and newlines in them."""
    db.execute("select audit.create_partitions(0, %s::date)", (f"{month}-01",))
    db.execute(
        """
        insert into audit.audit_logs (action, resource, resource_id, metadata, user_agent, timestamp)
        select 'data_export', 'attendance_records', 'r' || i,
            jsonb_build_object('note', 'line one' || chr(10) || 'line "two", three', 'i', i),
            case when i %% 7 = 0 then 'agent, with "quotes"' || chr(10) || 'and a newline' end,
            %s::date + (i %% 28) * interval '1 day' + i * interval '1 millisecond'
        from generate_series(1, %s) as i
        """,
        (f"{month}-01", rows),
    )
    return {
        r[0]
        for r in db.execute(
            "select id::text from audit.audit_logs"
            " where timestamp >= %s::date and timestamp < %s::date + interval '1 month'",
            (f"{month}-01", f"{month}-01"),
        ).fetchall()
    }


def archive_row(db: psycopg.Connection[Any], month: str) -> dict[str, Any]:
    row = db.execute(
        "select state, location, sha256, rows, bytes, first_at, last_at"
        " from audit.archives where month = %s::date",
        (f"{month}-01",),
    ).fetchone()
    assert row is not None, f"no archive of {month}"
    return dict(
        zip(("state", "location", "sha256", "rows", "bytes", "first_at", "last_at"), row, strict=True)
    )


def file_ids(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        reader = csv.DictReader(text)
        return [r["id"] for r in reader]


def test_a_month_is_written_verified_and_only_then_dropped(
    db: psycopg.Connection[Any], workers: Workers, tmp_path: Path
) -> None:
    ids = old_month(db, "2025-06", 5000)
    db.execute("select audit.create_partitions(0, '2026-11-01')")
    db.execute("analyze audit.audit_logs")
    assert db.execute(
        "select array_agg(m) from audit.detach_for_archive(1000000, '90 days', %s) as m", (NOW,)
    ).fetchone() == (None,), "below the threshold nothing moves"
    detached = db.execute(
        "select array_agg(m::text) from audit.detach_for_archive(100, '90 days', %s) as m", (NOW,)
    ).fetchone()
    assert detached == (["2025-06-01"],), "only months older than 90 days leave"
    assert db.execute("select count(*) from pgmq.q_jobs_low").fetchone() == (1,)
    assert db.execute("select count(*) from audit.audit_logs where timestamp < '2025-07-01'").fetchone() == (
        0,
    )

    workers.start(ARCHIVE_DIR=str(tmp_path))
    wait_for(lambda: archive_row(db, "2025-06")["state"] == "dropped", 60, "the month to be archived")
    archive = archive_row(db, "2025-06")
    path = Path(archive["location"])
    assert path == tmp_path / "audit-2025-06.csv.gz" and path.exists()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == archive["sha256"]
    assert (archive["rows"], archive["bytes"]) == (5000, path.stat().st_size)
    manifest = json.loads((tmp_path / "audit-2025-06.manifest.json").read_text())
    assert (manifest["rows"], manifest["sha256"], manifest["file"]) == (5000, archive["sha256"], path.name)
    assert manifest["firstTimestamp"].startswith("2025-06-01") and manifest["lastTimestamp"].startswith(
        "2025-06-28"
    )
    archived = file_ids(path)
    assert sorted(archived) == sorted(ids), "every entry once, nothing else"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        records = list(csv.DictReader(text))
    agents = {r["user_agent"] for r in records if r["user_agent"]}
    assert agents == {'agent, with "quotes"\nand a newline'}, "quotes, commas and newlines survive"
    assert json.loads(records[0]["metadata"])["note"] == 'line one\nline "two", three'
    assert db.execute("select to_regclass('audit_archive.audit_logs_y2025m06')").fetchone() == (None,)

    admin = uuid.uuid4()
    db.execute(
        "insert into app.staff (id, name, email, role) values (%s, 'A', %s, 'admin')", (admin, f"{admin}@x.y")
    )
    page = call_as(db, admin, "select api.audit_logs()")
    assert [(a["month"], a["state"], a["location"], a["rows"]) for a in page["archived"]] == [
        ("2025-06", "dropped", str(path), 5000)
    ]


def test_dropping_a_month_that_is_not_verified_is_refused(db: psycopg.Connection[Any]) -> None:
    old_month(db, "2025-05", 10)
    db.execute("analyze audit.audit_logs")
    db.execute("select audit.detach_for_archive(1, '90 days', %s)", (NOW,))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="not verified"):
        db.execute("select audit.archive_drop('2025-05-01')")
    assert db.execute("select to_regclass('audit_archive.audit_logs_y2025m05')").fetchone() != (None,)
    # The next daily run hands the unfinished month to the worker again.
    db.execute("select pgmq.purge_queue('jobs_low')")
    db.execute("select audit.detach_for_archive(1, '90 days', %s)", (NOW,))
    assert db.execute("select message from pgmq.q_jobs_low").fetchall() == [
        ({"task": "audit_archive", "month": "2025-05-01"},)
    ]


def test_a_table_that_no_longer_holds_what_was_archived_is_not_dropped(db: psycopg.Connection[Any]) -> None:
    """The database recounts before it drops: a verified archive of 10 rows does not let a
    table of 11 go."""
    old_month(db, "2025-04", 10)
    db.execute("analyze audit.audit_logs")
    db.execute("select audit.detach_for_archive(1, '90 days', %s)", (NOW,))
    db.execute(
        "select audit.archive_written('2025-04-01', '/archives/audit-2025-04.csv.gz', repeat('a', 64), 100,"
        " f.rows, f.first_at, f.last_at) from audit.archive_figures('2025-04-01') as f"
    )
    db.execute("select audit.archive_verified('2025-04-01')")
    db.execute(
        "insert into audit_archive.audit_logs_y2025m04 (action, resource, timestamp)"
        " values ('late', 'entry', '2025-04-15')"
    )
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="holds 11 rows .* its archive 10"):
        db.execute("select audit.archive_drop('2025-04-01')")
    assert db.execute("select to_regclass('audit_archive.audit_logs_y2025m04')").fetchone() != (None,)
    db.execute("delete from audit_archive.audit_logs_y2025m04 where action = 'late'")
    db.execute("select audit.archive_drop('2025-04-01')")
    assert archive_row(db, "2025-04")["state"] == "dropped"
    assert db.execute("select to_regclass('audit_archive.audit_logs_y2025m04')").fetchone() == (None,)


def test_a_detach_waiting_behind_a_reader_gives_up_and_detaches_nothing(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    """Detaching needs an exclusive lock on the audit log, and audited requests queue behind a
    waiting detach: it waits 5 s at most, then the whole run is undone for the next day's."""
    old_month(db, "2025-03", 10)
    db.execute("analyze audit.audit_logs")
    with psycopg.connect(db_url) as reader:
        reader.execute("select count(*) from audit.audit_logs")  # its transaction stays open
        started = time.monotonic()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            db.execute("select audit.detach_for_archive(1, '90 days', %s)", (NOW,))
        waited = time.monotonic() - started
    assert 4.5 <= waited < 10
    assert db.execute("select count(*) from audit.archives").fetchone() == (0,)
    assert db.execute("select to_regclass('audit.audit_logs_y2025m03')").fetchone() != (None,)


@pytest.mark.slow
def test_a_worker_killed_anywhere_resumes_without_loss_or_duplicates(
    db: psycopg.Connection[Any], workers: Workers, tmp_path: Path
) -> None:
    ids = old_month(db, "2025-04", 200_000)
    db.execute("analyze audit.audit_logs")
    db.execute("select audit.detach_for_archive(1, '90 days', %s)", (NOW,))
    rng = random.Random(25)
    kills = 0
    while archive_row(db, "2025-04")["state"] != "dropped" and kills < 8:
        # Attempts raised: this test is about resuming, not about giving up on a crashing job.
        proc = workers.start(ARCHIVE_DIR=str(tmp_path), JOBS_VISIBILITY_S="1", JOBS_ATTEMPTS="20")
        time.sleep(rng.uniform(0.1, 1.5))  # a random moment to kill it at
        workers.kill(proc)
        kills += 1
    workers.start(ARCHIVE_DIR=str(tmp_path), JOBS_VISIBILITY_S="1", JOBS_ATTEMPTS="20")
    wait_for(lambda: archive_row(db, "2025-04")["state"] == "dropped", 120, "the month to be archived")
    archive = archive_row(db, "2025-04")
    path = Path(archive["location"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == archive["sha256"]
    archived = file_ids(path)
    assert len(archived) == len(set(archived)) == len(ids) and set(archived) == ids
    assert not list(tmp_path.glob("*.partial")) or all(
        p.stat().st_size >= 0 for p in tmp_path.glob("*.partial")
    )


@pytest.mark.slow
def test_more_than_a_million_rows_are_archived_with_a_verified_manifest(
    db: psycopg.Connection[Any], workers: Workers, tmp_path: Path
) -> None:
    old_month(db, "2025-03", 1_000_001)
    db.execute("analyze audit.audit_logs")
    assert db.execute(
        "select array_agg(m::text) from audit.detach_for_archive(p_now => %s) as m", (NOW,)
    ).fetchone() == (["2025-03-01"],), "past a million rows (the default threshold) the old month leaves"
    workers.start(ARCHIVE_DIR=str(tmp_path))
    wait_for(lambda: archive_row(db, "2025-03")["state"] == "dropped", 180, "the month to be archived")
    archive = archive_row(db, "2025-03")
    manifest = json.loads((tmp_path / "audit-2025-03.manifest.json").read_text())
    path = Path(archive["location"])
    assert manifest["rows"] == archive["rows"] == 1_000_001
    assert manifest["sha256"] == archive["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(file_ids(path)) == 1_000_001
