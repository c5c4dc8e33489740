"""The worker's log: JSON lines, its own and its libraries', with no frame locals in traces."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from jobs.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The worker's configuration replaces the process's: put back what the suite had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_a_failed_task_is_logged_as_json_without_the_secrets_its_frames_held(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging()  # writes to this test's captured standard output
    smtp_password = "smtp-password-value"

    def send(password: str) -> None:
        raise ConnectionRefusedError("smtp refused")

    try:
        send(smtp_password)
    except ConnectionRefusedError:
        structlog.get_logger("jobs").exception("jobs.task_failed", task="email", msg_id=7)
    logging.getLogger("aiosmtplib").warning("connection to %s lost", "smtp.example")
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["event"], r["level"]) for r in records] == [
        ("jobs.task_failed", "error"),
        ("connection to smtp.example lost", "warning"),
    ]
    failed, library = records
    assert failed["task"] == "email" and failed["msg_id"] == 7
    assert failed["exception"][0]["exc_type"] == "ConnectionRefusedError"
    assert [f["name"] for f in failed["exception"][0]["frames"]][-1] == "send"
    assert library["logger"] == "aiosmtplib" and library["timestamp"].endswith("Z")
    assert smtp_password not in "".join(lines), "frame locals stay out of the log"
