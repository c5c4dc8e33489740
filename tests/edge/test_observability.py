"""Log timestamps and ids: the formats the log pipeline and the clients rely on."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import re
import sys
import time

import pytest

from edge.exports import pdf_document
from edge.observability import TurnWriter, UniqueIds, configure_logging, request_id, utc_timestamp


def test_timestamps_are_iso_utc_with_microseconds_and_move_forward() -> None:
    stamps = [utc_timestamp(None, "info", {})["timestamp"] for _ in range(2000)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s) for s in stamps)
    assert stamps == sorted(stamps)
    parsed = dt.datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))
    assert abs(parsed.timestamp() - time.time()) < 1.0


def test_request_ids_are_unique_and_a_sane_incoming_id_is_kept() -> None:
    ids = UniqueIds()
    assert len({ids() for _ in range(10_000)}) == 10_000
    assert UniqueIds()() != UniqueIds()(), "each process draws its own prefix"
    assert request_id("abc-123") == "abc-123"
    assert request_id("bad id\n").startswith("req_")
    assert request_id(None).startswith("req_")


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_log_lines_outside_an_event_loop_are_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    out = CountingStream()
    monkeypatch.setattr(sys, "stdout", out)
    writer = TurnWriter()
    writer.write("one\n")
    assert out.getvalue() == "one\n"
    writer.write("two\n")
    assert out.getvalue() == "one\ntwo\n" and out.writes == 2


async def test_log_lines_of_one_loop_turn_leave_in_one_write_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = CountingStream()
    monkeypatch.setattr(sys, "stdout", out)
    writer = TurnWriter()
    for i in range(50):
        writer.write(f"line {i}\n")
    assert out.getvalue() == "", "nothing written before the turn ends"
    await asyncio.sleep(0)
    assert out.getvalue() == "".join(f"line {i}\n" for i in range(50))
    assert out.writes == 1
    writer.write("next turn\n")
    await asyncio.sleep(0)
    assert out.getvalue().endswith("line 49\nnext turn\n") and out.writes == 2


def test_library_log_records_are_json_lines_and_font_subsetting_is_not_narrated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """psycopg's pool, hypercorn and fpdf2 log through the standard library: their records
    reach the log as the edge's own JSON lines, a trace without frame locals; a PDF export's
    font subsetting (fontTools, at INFO) leaves no line at all."""
    configure_logging()
    capsys.readouterr()
    logging.getLogger("psycopg.pool").warning("pool %s exhausted", "edge")
    pdf_document(
        {"studentName": "Oʻgʻiloy Ўқувчи", "className": "10-A", "from": "2026-09-01", "to": "2026-09-30"},
        [(dt.date(2026, 9, 1), 1, "Mathematics", "present", "10-A", None)],
    )
    api_key = "sk-secret-value"

    def fails(key: str) -> None:
        raise RuntimeError("storage refused")

    try:
        fails(api_key)
    except RuntimeError:
        logging.getLogger("hypercorn.error").exception("request failed")
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["level"], r["event"]) for r in records] == [
        ("psycopg.pool", "warning", "pool edge exhausted"),
        ("hypercorn.error", "error", "request failed"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", r["timestamp"]) for r in records)
    assert records[1]["exception"][0]["exc_value"] == "storage refused"
    assert api_key not in lines[1], "frame locals stay out of the trace"
