"""Log timestamps and ids: the formats the log pipeline and the clients rely on."""

from __future__ import annotations

import datetime as dt
import re
import time

from edge.observability import UniqueIds, request_id, utc_timestamp


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
