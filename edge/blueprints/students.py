"""Student endpoints: the caller's own figures (the database decides whose figures they are)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

from edge.cache import CacheSpec
from edge.contract import operation
from edge.schemas import (
    ClassStatistics,
    NoQuery,
    StudentDashboard,
    StudentRanking,
    WeeklyAttendance,
    WeeklyQuery,
)
from edge.serving import authenticate, serve
from edge.validation import validate_query

students = Blueprint("students", __name__, url_prefix="/api/students")

# The seed's TTLs: metrics 2 minutes, weekly attendance and class figures 5 minutes.
METRICS_TTL, WEEKLY_TTL, CLASS_TTL = 120, 300, 300


@students.get("/dashboard")
@validate_query(NoQuery)
@document_response(StudentDashboard, 200)
@operation(errors=(400, 403), cached=True)
async def dashboard(query_args: NoQuery) -> Response:
    """The caller's StudentDashboardMetrics (403 for callers who are not students)."""
    caller = await authenticate()
    sid = caller.key
    spec = CacheSpec(sid, "dashboard", METRICS_TTL, student_id=sid, student_class=True)
    return await serve(
        "dashboard", "student_reads", "select api.student_dashboard()", cache=spec, caller=caller
    )


@students.get("/attendance/weekly")
@validate_query(WeeklyQuery)
@document_response(WeeklyAttendance, 200)
@operation(errors=(400, 403), cached=True)
async def weekly(query_args: WeeklyQuery) -> Response:
    """The caller's records for one ISO week, by day and period, with the week's summary."""
    caller = await authenticate()
    sid = caller.key
    spec = CacheSpec(sid, f"weekly:{query_args.week}", WEEKLY_TTL, student_id=sid)
    return await serve(
        "weekly",
        "student_reads",
        "select api.weekly_attendance(%s)",
        (query_args.week,),
        cache=spec,
        caller=caller,
        field="week",
    )


@students.get("/ranking")
@validate_query(NoQuery)
@document_response(StudentRanking, 200)
@operation(errors=(400, 403), cached=True)
async def ranking(query_args: NoQuery) -> Response:
    """The caller's StudentRanking within their class."""
    caller = await authenticate()
    sid = caller.key
    spec = CacheSpec(sid, "ranking", METRICS_TTL, student_id=sid, student_class=True)
    return await serve("ranking", "student_reads", "select api.student_ranking()", cache=spec, caller=caller)


@students.get("/class-statistics")
@validate_query(NoQuery)
@document_response(ClassStatistics, 200)
@operation(errors=(400, 403), cached=True)
async def class_statistics(query_args: NoQuery) -> Response:
    """ClassStatistics of the caller's class."""
    caller = await authenticate()
    sid = caller.key
    spec = CacheSpec(sid, "class-statistics", CLASS_TTL, student_id=sid, student_class=True)
    return await serve(
        "class_statistics", "student_reads", "select api.class_statistics()", cache=spec, caller=caller
    )
