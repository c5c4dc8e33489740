"""The seed's ErrorResponse for every error the edge can produce, and SQLSTATE mapping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from quart import Response, jsonify

from edge.observability import current_trace


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable code."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        self.retry_after = retry_after
        self.headers = headers or {}


class ValidationError(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class AuthenticationError(ApiError):
    status, code = 401, "AUTHENTICATION_ERROR"


class ForbiddenError(ApiError):
    status, code = 403, "PERMISSION_ERROR"


class NotFoundError(ApiError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowedError(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"


class RequestTimeoutError(ApiError):
    status, code = 408, "REQUEST_TIMEOUT"


class ConflictError(ApiError):
    status, code = 409, "CONFLICT"


class UnsupportedMediaTypeError(ApiError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class PayloadTooLargeError(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class HeadersTooLargeError(ApiError):
    status, code = 431, "HEADERS_TOO_LARGE"


class RateLimitError(ApiError):
    status, code = 429, "RATE_LIMIT_EXCEEDED"


class DatabaseError(ApiError):
    status, code = 500, "DATABASE_ERROR"


class ServiceUnavailableError(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"


# SQLSTATEs raised by api functions, by the class of error they describe.
SQLSTATE_ERRORS: dict[str, type[ApiError]] = {
    "22004": ValidationError,  # null value not allowed
    "22007": ValidationError,  # invalid datetime format
    "22008": ValidationError,  # datetime field overflow
    "22023": ValidationError,  # invalid parameter value
    "22P02": ValidationError,  # invalid text representation
    "21000": ValidationError,  # cardinality violation (duplicates in one call)
    "23505": ValidationError,
    "23514": ValidationError,
    "28000": AuthenticationError,
    "42501": ForbiddenError,
    "55000": ConflictError,  # object not in prerequisite state
    "P0002": NotFoundError,
}


def from_database(exc: psycopg.Error) -> ApiError:
    """Map an error raised by Postgres to the ApiError the client should see."""
    kind = SQLSTATE_ERRORS.get(exc.sqlstate or "")
    if kind is None:
        return DatabaseError("The database could not complete the request.", details=str(exc).strip())
    message = (exc.diag.message_primary or "invalid request").strip()
    return kind(message[:1].upper() + message[1:])


def error_body(error: ApiError, request_id: str, debug: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestId": request_id,
    }
    if error.field is not None:
        body["field"] = error.field
    if error.retry_after is not None:
        body["retryAfter"] = error.retry_after
    if error.details is not None and debug:
        body["details"] = error.details
    return {"error": body}


def error_response(error: ApiError, debug: bool = False) -> Response:
    response = jsonify(error_body(error, current_trace().request_id, debug))
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
