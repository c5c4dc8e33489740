"""The reference implementation itself, on cases worked out by hand."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction

from tests.reference import Record, class_statistics, rankings, round_half_up, trend

A = uuid.UUID(int=1)
S = [uuid.UUID(int=10 + i) for i in range(4)]
DAY = dt.date(2026, 9, 1)


def records(student: uuid.UUID, statuses: str, start: dt.date = DAY) -> list[Record]:
    """One record per character: p present, a absent, s sick, l leave, n not_marked; one per day."""
    names = {"p": "present", "a": "absent", "s": "sick", "l": "leave", "n": "not_marked"}
    return [Record(student, A, start + dt.timedelta(days=i), 1, names[c]) for i, c in enumerate(statuses)]


def test_round_half_up() -> None:
    assert round_half_up(Fraction(12345, 1000), 2) == Decimal("12.35")
    assert round_half_up(Fraction(200, 3), 2) == Decimal("66.67")
    assert round_half_up(Fraction(1, 4), 1) == Decimal("0.3")


def test_ties_share_a_rank_and_percentiles_count_from_the_bottom() -> None:
    recs = records(S[0], "pp") + records(S[1], "pa") + records(S[2], "ap") + records(S[3], "nn")
    ranks = rankings({s: A for s in S}, recs)
    assert S[3] not in ranks, "no marked period, no rank"
    assert (ranks[S[0]].rank, ranks[S[1]].rank, ranks[S[2]].rank) == (1, 2, 2)
    assert ranks[S[0]].percentile == Decimal("100.0")
    assert ranks[S[1]].percentile == Decimal("0.0")
    assert ranks[S[1]].total_students == 3


def test_class_statistics_median_of_an_even_count_and_at_risk_is_inclusive() -> None:
    recs = records(S[0], "pppa") + records(S[1], "ppaa") + records(S[2], "pppp") + records(S[3], "pa")
    stats = class_statistics([A], {s: A for s in S}, recs)[A]
    assert stats.median_attendance == Decimal("62.50")
    assert stats.average_attendance == Decimal("68.75")
    assert stats.students_at_risk == 3, "75 % is at risk (at or below), 50 % twice"


def test_trend_needs_two_windows_and_five_points() -> None:
    assert trend(records(S[0], "p" * 14)) == "stable"
    old_bad = records(S[0], "a" * 14) + records(S[0], "p" * 14, DAY + dt.timedelta(days=14))
    assert trend(old_bad) == "improving"
    assert (
        trend(records(S[0], "p" * 14) + records(S[0], "a" * 14, DAY + dt.timedelta(days=14))) == "declining"
    )
