"""Request and response models: queries are validated (unknown parameters refused), responses
are documented in the OpenAPI description."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoQuery(Strict):
    """This endpoint takes no query parameters."""


class WeeklyQuery(Strict):
    week: str = Field(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week, e.g. 2026-W07")


class AuditQuery(Strict):
    userId: uuid.UUID | None = None  # noqa: N815 - the seed's parameter names
    action: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,49}$")
    from_: dt.datetime | None = Field(default=None, alias="from")
    to: dt.datetime | None = None
    success: bool | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: str | None = None
    field: str | None = None
    retryAfter: int | None = None  # noqa: N815
    timestamp: str
    requestId: str  # noqa: N815


class ErrorResponse(BaseModel):
    """Every error the edge returns has this shape."""

    error: ErrorBody


class Freshness(BaseModel):
    source: Literal["view", "live"]
    refreshedAt: dt.datetime | None = None  # noqa: N815
    ageSeconds: int | None = None  # noqa: N815
    pendingChanges: bool  # noqa: N815
    stale: bool


class StudentDashboard(BaseModel):
    studentId: uuid.UUID  # noqa: N815
    classId: uuid.UUID  # noqa: N815
    totalClasses: int  # noqa: N815
    attendanceRate: float | None  # noqa: N815
    presentDays: int  # noqa: N815
    absentDays: int  # noqa: N815
    sickDays: int  # noqa: N815
    leaveDays: int  # noqa: N815
    classAverage: float | None  # noqa: N815
    ranking: int | None
    trend: Literal["improving", "declining", "stable"]
    lastUpdated: dt.datetime  # noqa: N815
    freshness: Freshness
    source: Literal["view", "live"]
    cachedAt: dt.datetime  # noqa: N815
    stale: bool


class StudentRanking(BaseModel):
    studentId: uuid.UUID  # noqa: N815
    classId: uuid.UUID  # noqa: N815
    rank: int | None
    totalStudents: int  # noqa: N815
    percentile: float | None
    attendanceRate: float | None  # noqa: N815
    cachedAt: dt.datetime  # noqa: N815


class ClassStatistics(BaseModel):
    classId: uuid.UUID  # noqa: N815
    className: str  # noqa: N815
    totalStudents: int  # noqa: N815
    averageAttendance: float | None  # noqa: N815
    medianAttendance: float | None  # noqa: N815
    highestAttendance: float | None  # noqa: N815
    lowestAttendance: float | None  # noqa: N815
    studentsAtRisk: int  # noqa: N815
    lastCalculated: dt.datetime  # noqa: N815
    cachedAt: dt.datetime  # noqa: N815


class WeeklyAttendance(BaseModel):
    studentId: uuid.UUID  # noqa: N815
    week: str
    startDate: dt.date  # noqa: N815
    endDate: dt.date  # noqa: N815
    days: list[dict[str, object]]
    summary: dict[str, object]


class ClassRankings(BaseModel):
    classId: uuid.UUID  # noqa: N815
    rankings: list[dict[str, object]]


class AuditEntry(BaseModel):
    id: uuid.UUID
    userId: uuid.UUID | None  # noqa: N815
    action: str
    resource: str
    resourceId: str | None  # noqa: N815
    metadata: dict[str, object]
    ipAddress: str | None  # noqa: N815
    userAgent: str | None  # noqa: N815
    timestamp: dt.datetime
    success: bool
    errorMessage: str | None  # noqa: N815


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int
