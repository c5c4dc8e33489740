"""The worker as it runs: `python -m jobs` against a real Postgres (pgmq) and a real aiosmtpd
server whose replies each test scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from db.cluster import free_port
from stack.smtp_sink import MailSink
from tests.db.helpers import School, wait_for


class ScriptedSink(MailSink):
    """Replies from a script, per recipient: each entry is used once, then 250. "451" and
    "550" refuse; "hold" stores the message, then waits for `release` before its 250; "stall"
    never answers the DATA (the client times out); "drop" cuts the connection instead."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[str]] = {}
        self.delay_s = 0.0
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        import asyncio

        rcpt = envelope.rcpt_tos[0]
        with self.lock:
            steps = self.script.get(rcpt) or []
            step = steps.pop(0) if steps else "250"
        if step in ("451", "550"):
            return f"{step} scripted refusal"
        if step == "stall":
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 too late"
        if step == "drop":
            server.transport.abort()
            return "421 gone"
        self.store(envelope.original_content or envelope.content)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if step == "hold":
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 accepted"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]).strip() for m in list(self.received)]

    def by_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in list(self.received) if str(m["Message-ID"]).strip() == message_id]


@pytest.fixture
def sink() -> Iterator[ScriptedSink]:
    handler = ScriptedSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    yield handler
    handler.release.set()
    controller.stop()


class Workers:
    """Start, kill and stop `python -m jobs` processes with the test's settings."""

    def __init__(self, db_url: str, sink: ScriptedSink, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "SMTP_URL": f"smtp://127.0.0.1:{sink.port}",  # type: ignore[attr-defined]
            "JOBS_POLL_S": "0.2",
            "JOBS_VISIBILITY_S": "2",
            "JOBS_BACKOFF_S": "0.2",
            "SMTP_TIMEOUT_S": "2",
            # No metrics server unless a test asks for one (a shell's run.env may name a port).
            "JOBS_METRICS_PORT": "",
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, **settings: str) -> subprocess.Popen[bytes]:
        # Each worker's log goes to the test's directory, for when a test fails.
        with open(self.log_dir / f"worker-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobs"],
                env={**self.env, **settings},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def workers(jobs_db_url: str, sink: ScriptedSink, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(jobs_db_url, sink, tmp_path)
    yield w
    w.close()


def notify(
    db: psycopg.Connection[Any], students: list[uuid.UUID], kind: str = "attendance_warning", n: int = 1
) -> list[int]:
    """n notifications of `kind` per student; returns the email deliveries' ids in order."""
    db.execute(
        "select app.create_notifications(array(select row(s, %s, 'Title ' || i, 'Message ' || i, 'warning',"
        " null, %s::jsonb)::app.new_notification from unnest(%s::uuid[]) as s, generate_series(1, %s) as i))",
        (kind, '{"rate": 70, "present": 7, "marked": 10, "recovery": 7, "alert": "warning"}', students, n),
    )
    rows = db.execute(
        "select d.id from app.notification_deliveries as d"
        " join app.notifications as n on n.id = d.notification_id"
        " where d.channel = 'email' and n.type = %s order by d.id",
        (kind,),
    ).fetchall()
    return [r[0] for r in rows]


def deliveries(db: psycopg.Connection[Any]) -> dict[int, dict[str, Any]]:
    rows = db.execute(
        "select id, status, attempts, resends, message_id, last_error, recipient"
        " from app.notification_deliveries where channel = 'email'"
    ).fetchall()
    keys = ("status", "attempts", "resends", "message_id", "last_error", "recipient")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def wait_settled(db: psycopg.Connection[Any], timeout: float = 30) -> None:
    wait_for(
        lambda: all(d["status"] in ("sent", "dead") for d in deliveries(db).values()),
        timeout,
        "every email delivery to be sent or dead",
    )


@pytest.fixture
def school(db: psycopg.Connection[Any]) -> School:
    return School(db, students=3)


__all__ = ["ScriptedSink", "Workers", "deliveries", "notify", "time", "wait_settled"]
