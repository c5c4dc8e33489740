"""Request and response models. Queries are validated (unknown parameters refused, formats
enforced as documented); every response body is documented by one of these models, and none
allows a field it does not name (a test holds real bodies to that)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    ValidationInfo,
    field_validator,
)

UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)
INTEGER = re.compile(r"^-?[0-9]+$")


def iso_week_pattern() -> str:
    """YYYY-Www for exactly the ISO weeks that exist in years 0001-9999: weeks 01-52 of every
    year, and week 53 of the years that have one. Those repeat every 400 years, and a year's
    place in that cycle is its first two digits modulo 4 and its last two, so the long years
    fit in one regular expression and the OpenAPI document can say which weeks are valid."""
    long_in_cycle = {y % 400 for y in range(1, 401) if dt.date(y, 12, 28).isocalendar().week == 53}
    year = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
    long_years = []
    for residue in range(4):
        firsts = [f"{c:02d}" for c in range(100) if c % 4 == residue]
        lasts = [f"{e:02d}" for e in range(100) if (residue * 100 + e) % 400 in long_in_cycle]
        if lasts:
            long_years.append(f"(?:{'|'.join(firsts)})(?:{'|'.join(lasts)})")
    return rf"^(?:{year}-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?:{'|'.join(long_years)})-W53)$"


ISO_WEEK = iso_week_pattern()
_ISO_WEEK = re.compile(ISO_WEEK)


def _iso_week(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_WEEK.fullmatch(value):
        if re.fullmatch(r"[0-9]{4}-W[0-9]{2}", value):
            raise ValueError(f"week {value} does not exist")
        raise ValueError("must be an ISO week such as 2026-W07")
    return value


def _uuid_text(value: Any) -> Any:
    if isinstance(value, str) and not UUID_TEXT.fullmatch(value):
        raise ValueError("must be a uuid such as 1b4e28ba-2fa1-41d2-883f-0016d3cca427")
    return value


def _rfc3339(value: Any) -> Any:
    """An RFC 3339 date-time, as UTC. Postgres refuses offsets past 15:59 and Python times
    outside years 1-9999, though RFC 3339 allows both: a filter bound beyond them means "from
    the beginning" or "to the end", so it is clamped there; a leap second is its second's end."""
    if not isinstance(value, str):
        return value
    match = RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("must be an RFC 3339 date-time with an offset, such as 2026-11-30T08:00:00Z")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    fraction = int((match[7] or "0")[:6].ljust(6, "0"))
    if second == 60:
        second, fraction = 59, 999_999
    sign, offset_hours, offset_minutes = match[8], int(match[9] or 0), int(match[10] or 0)
    if hour > 23 or minute > 59 or second > 59 or offset_hours > 23 or offset_minutes > 59:
        raise ValueError("is not a valid time of day or offset")
    offset = dt.timedelta(hours=offset_hours, minutes=offset_minutes) * (-1 if sign == "-" else 1)
    try:
        local = dt.datetime(year, month, day, hour, minute, second, fraction, dt.timezone(offset))
    except ValueError as exc:
        raise ValueError("is not a valid date") from exc
    try:
        return local.astimezone(dt.UTC)
    except OverflowError:
        return (dt.datetime.min if offset > dt.timedelta(0) else dt.datetime.max).replace(tzinfo=dt.UTC)


def _integer(value: Any) -> Any:
    if isinstance(value, str) and not INTEGER.fullmatch(value):
        raise ValueError("must be an integer written in digits")
    return value


def _true_or_false(value: Any) -> Any:
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


# Query parameters in exactly the formats the OpenAPI document names: pydantic alone would also
# take a uuid without hyphens, a Unix time for a date-time ("0.5"), "yes" for a boolean and
# "1_0" or "10.0" for an integer.
UuidParam = Annotated[uuid.UUID, BeforeValidator(_uuid_text)]
DateTimeParam = Annotated[dt.datetime, BeforeValidator(_rfc3339)]
IntParam = Annotated[int, BeforeValidator(_integer)]
BoolParam = Annotated[bool, BeforeValidator(_true_or_false)]
# The pattern is documented; the validator says in words what is wrong.
IsoWeek = Annotated[
    str,
    BeforeValidator(_iso_week),
    Field(json_schema_extra={"pattern": ISO_WEEK}, description="An ISO week that exists, e.g. 2026-W07"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoQuery(Strict):
    """This endpoint takes no query parameters."""


class WeeklyQuery(Strict):
    # Also checked by api.weekly_attendance (22007, 22023); here it fails earlier, naming the field.
    week: IsoWeek


class AuditQuery(Strict):
    userId: UuidParam | None = None  # noqa: N815 - the seed's parameter names
    action: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,49}$")
    from_: DateTimeParam | None = Field(default=None, alias="from")
    to: DateTimeParam | None = None
    success: BoolParam | None = None
    # The range of limit and the sign of offset are also enforced by api.audit_logs (22023);
    # here they fail earlier, naming the field. The offset's upper bound is the edge's alone.
    limit: IntParam = Field(default=50, ge=1, le=500)
    offset: IntParam = Field(default=0, ge=0, le=1_000_000)


class ErrorBody(Strict):
    code: str
    message: str
    details: str | None = None
    field: str | None = None
    retryAfter: int | None = None  # noqa: N815
    timestamp: dt.datetime
    requestId: str  # noqa: N815


class ErrorResponse(Strict):
    """Every error the edge returns has this shape."""

    error: ErrorBody


class Freshness(Strict):
    source: Literal["view", "live"]
    refreshedAt: dt.datetime | None  # noqa: N815
    ageSeconds: int | None  # noqa: N815
    pendingChanges: bool  # noqa: N815
    stale: bool


class Cached(Strict):
    """Fields of every cacheable response: when it was computed and where class figures came from."""

    cachedAt: dt.datetime  # noqa: N815


class Figures(Cached):
    freshness: Freshness
    source: Literal["view", "live"]
    stale: bool


class Recovery(BaseModel):
    """Per alert level: consecutive present periods that bring the student out of it (0 when
    outside it; null when no number can, at a threshold of 100)."""

    tasdiq: int | None
    warning: int | None
    mahroom: int | None


class StudentDashboard(Figures):
    """StudentDashboardMetrics of the calling student."""

    studentId: uuid.UUID  # noqa: N815
    classId: uuid.UUID  # noqa: N815
    totalClasses: int  # noqa: N815
    attendanceRate: float | None  # noqa: N815
    presentDays: int  # noqa: N815
    absentDays: int  # noqa: N815
    sickDays: int  # noqa: N815
    leaveDays: int  # noqa: N815
    notMarked: int  # noqa: N815
    classAverage: float | None  # noqa: N815
    ranking: int | None
    trend: Literal["improving", "declining", "stable"]
    lastUpdated: dt.datetime  # noqa: N815
    recovery: Recovery
    alertLevel: Literal["tasdiq", "warning", "mahroom"] | None  # noqa: N815


class StudentRanking(Figures):
    """The calling student's rank in their class; null rank and percentile without a rate."""

    studentId: uuid.UUID  # noqa: N815
    classId: uuid.UUID  # noqa: N815
    rank: int | None
    totalStudents: int  # noqa: N815
    percentile: float | None
    attendanceRate: float | None  # noqa: N815


class ClassStatistics(Figures):
    """Figures of one class."""

    classId: uuid.UUID  # noqa: N815
    className: str  # noqa: N815
    totalStudents: int  # noqa: N815
    averageAttendance: float | None  # noqa: N815
    medianAttendance: float | None  # noqa: N815
    highestAttendance: float | None  # noqa: N815
    lowestAttendance: float | None  # noqa: N815
    studentsAtRisk: int  # noqa: N815
    lastCalculated: dt.datetime  # noqa: N815


Status = Literal["present", "absent", "sick", "leave", "not_marked"]


class WeeklyPeriod(Strict):
    period: int
    subject: str
    status: Status
    markedAt: dt.datetime  # noqa: N815


class WeeklyDay(Strict):
    date: dt.date
    dayOfWeek: int  # noqa: N815
    periods: list[WeeklyPeriod]


class WeeklySummary(Strict):
    totalClasses: int  # noqa: N815
    presentDays: int  # noqa: N815
    absentDays: int  # noqa: N815
    sickDays: int  # noqa: N815
    leaveDays: int  # noqa: N815
    notMarked: int  # noqa: N815
    attendanceRate: float | None  # noqa: N815


class WeeklyAttendance(Cached):
    """One ISO week of the calling student's records by day and period, with its summary."""

    studentId: uuid.UUID  # noqa: N815
    week: str
    startDate: dt.date  # noqa: N815
    endDate: dt.date  # noqa: N815
    days: list[WeeklyDay]
    summary: WeeklySummary


class RankedStudent(Strict):
    studentId: uuid.UUID  # noqa: N815
    name: str
    rank: int
    totalStudents: int  # noqa: N815
    percentile: float
    attendanceRate: float  # noqa: N815


class ClassRankings(Figures):
    """Every ranked student of one class, best first."""

    classId: uuid.UUID  # noqa: N815
    rankings: list[RankedStudent]


class AuditEntry(Strict):
    id: uuid.UUID
    userId: uuid.UUID | None  # noqa: N815
    action: str
    resource: str
    resourceId: str | None  # noqa: N815
    metadata: dict[str, Any]
    ipAddress: str | None  # noqa: N815
    userAgent: str | None  # noqa: N815
    timestamp: dt.datetime
    success: bool
    errorMessage: str | None  # noqa: N815


class AuditArchive(Strict):
    """A month of the audit log moved out of the table: its state, and its file once written."""

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    state: Literal["detached", "written", "verified", "dropped"]
    location: str | None
    rows: int | None
    firstAt: dt.datetime | None  # noqa: N815
    lastAt: dt.datetime | None  # noqa: N815
    sha256: str | None
    bytes: int | None
    detachedAt: dt.datetime  # noqa: N815
    droppedAt: dt.datetime | None  # noqa: N815


class AuditPage(Strict):
    """A page of audit entries, newest first, and the months archived out of the table."""

    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int
    archived: list[AuditArchive]


class RateLimitReset(Strict):
    """Every rate-limit window of the user was forgotten."""

    userId: uuid.UUID  # noqa: N815
    buckets: list[str]
    reset: Literal[True]


class Health(Strict):
    """The process is up."""

    status: Literal["ok"]


class Check(Strict):
    ok: bool
    latencyMs: float | None = None  # noqa: N815
    error: str | None = None


class Checks(Strict):
    database: Check
    redis: Check


class Pool(Strict):
    size: int
    available: int
    waiting: int
    min: int
    max: int


class Resources(Strict):
    cpuPercent: float  # noqa: N815
    memoryPercent: float  # noqa: N815


class Readiness(Strict):
    """Ready, degraded (serving, with what is switched off) or not ready (no database: 503)."""

    status: Literal["ready", "degraded", "not_ready"]
    checks: Checks
    pool: Pool
    circuits: dict[str, Literal["closed", "open", "half_open"]]
    degraded: list[str]
    resources: Resources


# An event's position as clients see it (SSE `id:`, Last-Event-ID, `after`).
EVENT_POSITION = r"^[0-7][0-9a-f]{15}[0-7][0-9a-f]{15}$"


class EventsQuery(Strict):
    after: str | None = Field(
        default=None,
        pattern=EVENT_POSITION,
        description="The id of the last event the client has; absent: start from now.",
    )
    limit: IntParam = Field(default=100, ge=1, le=1000)


class StreamQuery(Strict):
    ticket: str | None = Field(default=None, max_length=200, description="A ticket from POST .../sse/ticket.")
    lastEventId: str | None = Field(  # noqa: N815
        default=None,
        max_length=200,
        description="Resume after this event on a first connection (later ones send Last-Event-ID).",
    )


class AttendanceChange(Strict):
    """What changed in one of the student's records."""

    change: Literal["marked", "re-marked", "deleted"]
    studentId: uuid.UUID  # noqa: N815
    date: dt.date
    period: int
    subject: str
    status: Literal["present", "absent", "sick", "leave", "not_marked"] | None
    previousStatus: Literal["present", "absent", "sick", "leave", "not_marked"] | None  # noqa: N815
    markedBy: uuid.UUID | None  # noqa: N815
    markedAt: dt.datetime  # noqa: N815


class ResetReason(Strict):
    reason: str


class AttendanceUpdateEvent(Strict):
    id: str
    event: Literal["attendance_update"]
    data: AttendanceChange


class MetricsUpdateEvent(Strict):
    id: str
    event: Literal["metrics_update"]
    data: StudentDashboard


class ResetEvent(Strict):
    id: str
    event: Literal["reset"]
    data: ResetReason


NotificationType = Literal[
    "attendance_warning",
    "mahroom_alert",
    "tasdiq_alert",
    "consecutive_absence",
    "file_approved",
    "file_rejected",
    "system_announcement",
]
Severity = Literal["info", "warning", "error", "success"]


class NotificationCreated(Strict):
    """A new in-app notification, as the stream announces it."""

    id: uuid.UUID
    type: NotificationType
    title: str
    message: str
    severity: Severity
    actionUrl: str | None  # noqa: N815
    createdAt: dt.datetime  # noqa: N815
    read: bool


class NotificationEvent(Strict):
    id: str
    event: Literal["notification"]
    data: NotificationCreated


class EventsPage(Strict):
    """The student's events after `after`, in order; the SSE stream sends the same ids."""

    events: list[AttendanceUpdateEvent | MetricsUpdateEvent | NotificationEvent | ResetEvent]
    nextAfter: str  # noqa: N815
    reset: bool


class StreamTicket(Strict):
    """A single-use ticket for ?ticket= on the event stream (EventSource cannot send headers)."""

    ticket: str
    expiresIn: int  # noqa: N815


# A notifications page cursor: what nextCursor said.
NOTIFICATION_CURSOR = r"^\d{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class NotificationsQuery(Strict):
    unread: BoolParam = Field(default=False, description="Only notifications not read yet.")
    limit: IntParam = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(
        default=None, pattern=NOTIFICATION_CURSOR, description="nextCursor of the page before."
    )


class Notification(Strict):
    """The seed's Notification; metadata holds an alert's figures (rate, level, recovery...)."""

    id: uuid.UUID
    studentId: uuid.UUID  # noqa: N815
    type: NotificationType
    title: str
    message: str
    severity: Severity
    createdAt: dt.datetime  # noqa: N815
    read: bool
    readAt: dt.datetime | None  # noqa: N815
    actionUrl: str | None  # noqa: N815
    metadata: dict[str, Any]


class NotificationsPage(Cached):
    """The caller's in-app notifications, newest first."""

    notifications: list[Notification]
    nextCursor: str | None  # noqa: N815
    unreadCount: int  # noqa: N815


class MarkIds(Strict):
    """These notifications (ids that are unknown or someone else's are ignored)."""

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class MarkAll(Strict):
    """Every notification of the caller."""

    all: Literal[True]


class MarkRead(RootModel[MarkIds | MarkAll]):
    """Either {"ids": [...]} or {"all": true}."""


class MarkedRead(Strict):
    updated: int
    unreadCount: int  # noqa: N815


class PreferencesUpdate(Strict):
    """The seed's NotificationPreferences: every flag, each true or false."""

    emailEnabled: StrictBool  # noqa: N815
    inAppEnabled: StrictBool  # noqa: N815
    attendanceAlerts: StrictBool  # noqa: N815
    fileUpdates: StrictBool  # noqa: N815
    systemAnnouncements: StrictBool  # noqa: N815


class Preferences(Cached):
    emailEnabled: bool  # noqa: N815
    inAppEnabled: bool  # noqa: N815
    attendanceAlerts: bool  # noqa: N815
    fileUpdates: bool  # noqa: N815
    systemAnnouncements: bool  # noqa: N815
    updatedAt: dt.datetime  # noqa: N815


class ExportQuery(Strict):
    format: Literal["csv", "pdf"] = Field(description="csv (streamed, UTF-8 with a BOM) or pdf")
    from_: dt.date = Field(alias="from", description="The first day of the export (YYYY-MM-DD)")
    to: dt.date = Field(description="The last day of the export, included (YYYY-MM-DD)")

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("from_")
        if start is not None and to < start:
            raise ValueError("to is before from")
        return to


FileStatus = Literal["pending", "scanning", "clean", "quarantined", "approved", "rejected"]
FileType = Literal["application/pdf", "image/jpeg", "image/png"]


class ScanResult(Strict):
    """The seed's VirusScanResult, with the engines that looked (built-in checks, clamd)."""

    clean: bool
    threats: list[str]
    engines: list[str]
    scannedAt: dt.datetime  # noqa: N815


class StoredFile(Strict):
    """The seed's StoredFileMetadata. signedUrl (valid 24 h) is null while the file may not be
    downloaded: until its scan has passed (pending, scanning), and once quarantined or
    rejected."""

    fileId: uuid.UUID  # noqa: N815
    studentId: uuid.UUID  # noqa: N815
    fileName: str  # noqa: N815
    fileType: FileType  # noqa: N815
    fileSize: int  # noqa: N815
    description: str | None
    sha256: str
    uploadedAt: dt.datetime  # noqa: N815
    status: FileStatus
    rejectionReason: str | None  # noqa: N815
    reviewedAt: dt.datetime | None  # noqa: N815
    scanResult: ScanResult | None  # noqa: N815
    signedUrl: str | None  # noqa: N815
    signedUrlExpiresAt: dt.datetime | None  # noqa: N815


class UploadResult(StoredFile):
    """The seed's UploadResult: the new file, pending its scan. Its signedUrl is null: a file
    is served once its scan has passed, and its metadata then carries a URL."""


class FilesQuery(Strict):
    studentId: UuidParam | None = Field(  # noqa: N815
        default=None, description="Staff: one student's files (a student sees only their own)."
    )
    limit: IntParam = Field(default=50, ge=1, le=200)
    offset: IntParam = Field(default=0, ge=0, le=1_000_000)


class FilesPage(Strict):
    """Newest first: a student's own, a teacher's classes', or (admins) every student's."""

    files: list[StoredFile]


class DeletedFile(Strict):
    fileId: uuid.UUID  # noqa: N815
    deleted: Literal[True]


class Approval(Strict):
    decision: Literal["approve"]
    reason: str | None = Field(default=None, max_length=1000, description="A note for the student.")


class Rejection(Strict):
    decision: Literal["reject"]
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S", description="What the student reads.")


class Review(RootModel[Approval | Rejection]):
    """{"decision": "approve"} (a reason is optional), or {"decision": "reject", "reason": ...}."""


class DownloadQuery(Strict):
    expires: IntParam = Field(ge=0, le=10**11, description="Unix seconds after which the link is void.")
    sig: str = Field(min_length=43, max_length=43, pattern=r"^[A-Za-z0-9_-]{43}$")
