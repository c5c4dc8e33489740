"""A plain-Python reading of SPEC section 4 ("Metric definitions"), in exact arithmetic.

The database computes every figure; these functions recompute them from raw records so that
tests can compare the two. They follow the text of the spec, not the SQL.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

STATUSES = ("present", "absent", "sick", "leave", "not_marked")
MARKED = ("present", "absent", "sick", "leave")


@dataclass(frozen=True)
class Record:
    student_id: uuid.UUID
    class_id: uuid.UUID
    date: dt.date
    period: int
    status: str


def round_half_up(value: Fraction, places: int) -> Decimal:
    """Round half away from zero (rates are never negative), as Postgres rounds numerics."""
    scale = 10**places
    scaled = value * scale
    rounded = math.floor(abs(scaled) + Fraction(1, 2)) * (1 if scaled >= 0 else -1)
    return Decimal(rounded).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def rate(present: int, marked: int) -> Fraction | None:
    return Fraction(100 * present, marked) if marked > 0 else None


def counts(records: Iterable[Record]) -> dict[uuid.UUID, Counter[str]]:
    out: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    for r in records:
        out[r.student_id][r.status] += 1
    return out


def student_rate(c: Counter[str]) -> Fraction | None:
    return rate(c["present"], sum(c[s] for s in MARKED))


def trend(records: Iterable[Record]) -> str:
    """Latest 14 dates with a marked period against the 14 before them; +-5 points decides."""
    per_day: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.status in MARKED:
            per_day[r.date][1] += 1
            per_day[r.date][0] += r.status == "present"
    dates = sorted(per_day, reverse=True)
    recent, previous = dates[:14], dates[14:28]
    if not recent or not previous:
        return "stable"
    r1 = rate(sum(per_day[d][0] for d in recent), sum(per_day[d][1] for d in recent))
    r2 = rate(sum(per_day[d][0] for d in previous), sum(per_day[d][1] for d in previous))
    assert r1 is not None and r2 is not None
    if r1 - r2 >= 5:
        return "improving"
    if r1 - r2 <= -5:
        return "declining"
    return "stable"


@dataclass(frozen=True)
class Ranking:
    rank: int
    total_students: int
    percentile: Decimal
    attendance_rate: Decimal


def rankings(students: dict[uuid.UUID, uuid.UUID], records: list[Record]) -> dict[uuid.UUID, Ranking]:
    """Per class: rank() by rate desc among students with a rate; percent_rank() by rate asc."""
    by_student = counts(records)
    rated: dict[uuid.UUID, list[tuple[uuid.UUID, Fraction]]] = defaultdict(list)
    for sid, cid in students.items():
        r = student_rate(by_student.get(sid, Counter()))
        if r is not None:
            rated[cid].append((sid, r))
    out = {}
    for members in rated.values():
        n = len(members)
        for sid, r in members:
            rank = 1 + sum(1 for _, other in members if other > r)
            rank_asc = 1 + sum(1 for _, other in members if other < r)
            pct = Fraction(100 * (rank_asc - 1), n - 1) if n > 1 else Fraction(0)
            out[sid] = Ranking(rank, n, round_half_up(pct, 1), round_half_up(r, 2))
    return out


@dataclass(frozen=True)
class ClassStats:
    total_students: int
    average_attendance: Decimal | None
    median_attendance: Decimal | None
    highest_attendance: Decimal | None
    lowest_attendance: Decimal | None
    students_at_risk: int


def class_statistics(
    classes: Iterable[uuid.UUID],
    students: dict[uuid.UUID, uuid.UUID],
    records: list[Record],
    mahroom: Fraction = Fraction(75),
    inclusive: bool = True,
) -> dict[uuid.UUID, ClassStats]:
    by_student = counts(records)
    out = {}
    for cid in classes:
        members = [sid for sid, c in students.items() if c == cid]
        rates = sorted(
            r for r in (student_rate(by_student.get(sid, Counter())) for sid in members) if r is not None
        )
        if rates:
            mid = len(rates) // 2
            median = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2
            out[cid] = ClassStats(
                total_students=len(members),
                average_attendance=round_half_up(sum(rates, Fraction(0)) / len(rates), 2),
                median_attendance=round_half_up(median, 2),
                highest_attendance=round_half_up(rates[-1], 2),
                lowest_attendance=round_half_up(rates[0], 2),
                students_at_risk=sum(1 for r in rates if r < mahroom or (inclusive and r == mahroom)),
            )
        else:
            out[cid] = ClassStats(len(members), None, None, None, None, 0)
    return out
