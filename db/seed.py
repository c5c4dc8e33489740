"""Demo data: classes, students, teachers, an admin and a realistic attendance history.

Deterministic for a given --seed. Each student gets a propensity to attend drawn so that a
few sit at or below 75 % (mahroom), some below 80 and 85 %, and most above. Records are
loaded with COPY. `python -m db.seed --help` lists the sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from rich.progress import Progress

from db.tokens import mint

FIRST = (
    "Amina Bilal Chen Dariush Elif Farid Gul Hana Idris Jamila Karim Leila Musa Nadia Omar "
    "Parisa Qasim Rana Samir Tara Umar Vida Walid Yasmin Zahra Arash Bahar Cyrus Dina Emil"
).split()
LAST = (
    "Ahmadi Barakzai Chaudhry Durrani Ebrahimi Farahani Ghani Hosseini Iqbal Jalali Karimi "
    "Latifi Mohammadi Nazari Omidi Popal Qureshi Rahimi Sadat Tahiri Usmani Wardak Yusufi Zaman"
).split()
SUBJECTS = (
    "Mathematics",
    "Physics",
    "Chemistry",
    "Biology",
    "Literature",
    "History",
    "Geography",
    "English",
    "Computer Science",
    "Religious Studies",
    "Art",
    "Physical Education",
)
# (share of students, lowest propensity, highest propensity)
BANDS = ((0.08, 0.55, 0.74), (0.08, 0.75, 0.80), (0.10, 0.80, 0.85), (0.74, 0.86, 0.995))
ABSENCE = (("absent", 0.6), ("sick", 0.25), ("leave", 0.15))


@dataclass(frozen=True)
class SeedResult:
    classes: int
    students: int
    records: int
    demo_student_id: uuid.UUID
    demo_teacher_id: uuid.UUID
    admin_id: uuid.UUID


def school_days(count: int, end: dt.date) -> list[dt.date]:
    """The `count` weekdays before `end`, oldest first."""
    days: list[dt.date] = []
    day = end
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _propensity(rng: random.Random) -> float:
    pick = rng.random()
    for share, low, high in BANDS:
        if pick < share:
            return rng.uniform(low, high)
        pick -= share
    return rng.uniform(BANDS[-1][1], BANDS[-1][2])


def _status(rng: random.Random, propensity: float) -> str:
    roll = rng.random()
    if roll < 0.005:
        return "not_marked"
    if roll < propensity:
        return "present"
    pick = rng.random()
    for status, share in ABSENCE:
        if pick < share:
            return status
        pick -= share
    return "absent"


def seed(
    dsn: str,
    *,
    jwt_secret: str | None = None,
    classes: int = 20,
    students_per_class: int = 30,
    days: int = 60,
    periods: int = 6,
    rng_seed: int = 42,
    end: dt.date | None = None,
    quiet: bool = False,
) -> SeedResult:
    if not (1 <= periods <= 12 and classes >= 1 and students_per_class >= 1 and days >= 1):
        raise ValueError("need classes, students and days >= 1 and periods between 1 and 12")
    rng = random.Random(rng_seed)
    dates = school_days(days, end or dt.date.today())
    class_ids = [_uuid(rng) for _ in range(classes)]
    homeroom = [_uuid(rng) for _ in range(classes)]
    subject_teachers = [_uuid(rng) for _ in range(max(1, classes // 4))]
    admin_id = _uuid(rng)
    roster: list[tuple[uuid.UUID, uuid.UUID, str, float]] = []
    for c, class_id in enumerate(class_ids):
        for s in range(students_per_class):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            roster.append((_uuid(rng), class_id, name, _propensity(rng)))
            del s
        del c
    timetable = {
        (class_id, weekday, period): SUBJECTS[rng.randrange(len(SUBJECTS))]
        for class_id in class_ids
        for weekday in range(5)
        for period in range(1, periods + 1)
    }

    with psycopg.connect(dsn) as conn:
        if conn.execute("select exists (select 1 from app.students)").fetchone() == (True,):
            raise RuntimeError("the database already has students: use `make db-reset` to start over")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into app.classes (id, name) values (%s, %s)",
                [
                    (cid, f"Grade {7 + i // 4}-{'ABCD'[i % 4]}{i // 20 or ''}")
                    for i, cid in enumerate(class_ids)
                ],
            )
            staff = [
                (t, f"Teacher {i + 1}", f"teacher{i + 1}@school.example", "teacher")
                for i, t in enumerate(homeroom + subject_teachers)
            ]
            staff.append((admin_id, "School Admin", "admin@school.example", "admin"))
            cur.executemany("insert into app.staff (id, name, email, role) values (%s, %s, %s, %s)", staff)
            links = [(cid, homeroom[i]) for i, cid in enumerate(class_ids)]
            links += [
                (cid, subject_teachers[i // 4 % len(subject_teachers)]) for i, cid in enumerate(class_ids)
            ]
            cur.executemany(
                "insert into app.class_teachers (class_id, teacher_id) values (%s, %s)"
                " on conflict do nothing",
                links,
            )
            with cur.copy("copy app.students (id, class_id, name, email) from stdin") as copy:
                for n, (sid, cid, name, _) in enumerate(roster):
                    copy.write_row((sid, cid, name, f"student{n + 1}@school.example"))
        records = _load_attendance(conn, rng, roster, dates, periods, timetable, homeroom, class_ids, quiet)
        conn.commit()

    demo = min(roster, key=lambda r: abs(r[3] - 0.78))
    result = SeedResult(
        classes=classes,
        students=len(roster),
        records=records,
        demo_student_id=demo[0],
        demo_teacher_id=homeroom[class_ids.index(demo[1])],
        admin_id=admin_id,
    )
    if not quiet:
        print(f"seeded {classes} classes, {len(roster)} students, {records} attendance records")
        print(f"demo student: {result.demo_student_id}")
        print(f"demo teacher: {result.demo_teacher_id}")
        print(f"admin:        {result.admin_id}")
        if jwt_secret:
            print(f"demo student token (1 h): {mint(jwt_secret, result.demo_student_id)}")
    return result


def _load_attendance(
    conn: psycopg.Connection[tuple[object, ...]],
    rng: random.Random,
    roster: list[tuple[uuid.UUID, uuid.UUID, str, float]],
    dates: list[dt.date],
    periods: int,
    timetable: dict[tuple[uuid.UUID, int, int], str],
    homeroom: list[uuid.UUID],
    class_ids: list[uuid.UUID],
    quiet: bool,
) -> int:
    marker = dict(zip(class_ids, homeroom, strict=True))

    def rows(student: tuple[uuid.UUID, uuid.UUID, str, float]) -> Iterator[tuple[object, ...]]:
        sid, cid, _, propensity = student
        for day in dates:
            marked_at = dt.datetime.combine(day, dt.time(15, 0), tzinfo=dt.UTC)
            for period in range(1, periods + 1):
                yield (
                    sid,
                    cid,
                    day,
                    period,
                    timetable[(cid, day.weekday(), period)],
                    _status(rng, propensity),
                    marker[cid],
                    marked_at,
                )

    count = 0
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("attendance", total=len(roster))
        with (
            conn.cursor() as cur,
            cur.copy(
                "copy app.attendance_records"
                " (student_id, class_id, date, period, subject, status, marked_by, marked_at) from stdin"
            ) as copy,
        ):
            for student in roster:
                for row in rows(student):
                    copy.write_row(row)
                    count += 1
                progress.advance(task)
    return count


def main(argv: list[str] | None = None) -> int:
    from db.config import ConfigError, Settings
    from db.local import LocalDatabase

    parser = argparse.ArgumentParser(prog="python -m db.seed", description=__doc__)
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--students", type=int, default=30, help="students per class")
    parser.add_argument("--days", type=int, default=60, help="school days of history")
    parser.add_argument("--periods", type=int, default=6, help="periods per day (1-12)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        database = LocalDatabase.from_settings(Settings.from_env())
        with database.opened() as url:
            seed(
                url,
                jwt_secret=database.jwt_secret,
                classes=args.classes,
                students_per_class=args.students,
                days=args.days,
                periods=args.periods,
                rng_seed=args.seed,
                quiet=args.quiet,
            )
    except (ConfigError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
