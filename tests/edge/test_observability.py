"""Log timestamps and ids: the formats the log pipeline and the clients rely on."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import sys
import time

import pytest

from edge.observability import TurnWriter, UniqueIds, request_id, utc_timestamp


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
