"""Medical certificates: upload (streamed to storage, registered with its scan job in one
transaction), the files a caller may see, delete, staff review, and signed downloads.

The database decides who sees, deletes and reviews what (RLS and api functions); the edge reads
the body, talks to storage, and signs and checks download URLs against each file's url_version.
Every upload, refused or not, and every download, refused or not, is audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse
from collections.abc import AsyncIterator
from functools import wraps
from typing import Any

from quart import Blueprint, Response, request, stream_with_context
from quart.blueprints import BlueprintSetupState
from quart_schema import RequestSchemaValidationError, document_request, document_response
from werkzeug.routing import BaseConverter

from edge import file_urls
from edge.contract import operation
from edge.errors import ApiError, ForbiddenError, ServiceUnavailableError
from edge.schemas import (
    UUID_TEXT,
    Approval,
    DeletedFile,
    DownloadQuery,
    FilesPage,
    FilesQuery,
    NoQuery,
    Rejection,
    Review,
    StoredFile,
    UploadResult,
)
from edge.serving import audit, audit_refusals, authenticate, client_ip, enforce, refuse, state
from edge.uploads import MAX_BODY_BYTES, Received, UploadReader, boundary_of
from edge.validation import (
    Handler,
    as_validation_error,
    body_limit,
    check_declared_length,
    path_uuid,
    read_body,
    validate_query,
)

files = Blueprint("files", __name__)


class FileIdConverter(BaseConverter):
    """A file's id in /api/students/files/{id}: any segment but `upload`, which is a resource
    of its own (so OPTIONS on it lists only its own methods). A segment that is not a uuid is
    still a 400 naming `id`."""

    regex = r"(?!upload$)[^/]+"


@files.record_once
def _register_converter(setup: BlueprintSetupState) -> None:
    setup.app.url_map.converters["file_id"] = FileIdConverter


REFUSED_LINK = "This download link is not valid: it has expired, was altered or was revoked."


def _base_url() -> str:
    return state().settings.public_url or request.host_url.rstrip("/")


def _with_url(item: dict[str, Any]) -> dict[str, Any]:
    """The API's file: a fresh signed URL in place of the version it is signed with."""
    version = item.pop("urlVersion", None)
    key = state().settings.signing_key()
    if version is None:
        item["signedUrl"] = item["signedUrlExpiresAt"] = None
        return item
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    item["signedUrl"] = file_urls.signed_url(_base_url(), key, item["fileId"], version, now.timestamp())
    expires = now + dt.timedelta(seconds=file_urls.TTL_S)
    item["signedUrlExpiresAt"] = expires.isoformat().replace("+00:00", "Z")
    return item


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(state().responses.dumps(body), status=status, content_type="application/json")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


@files.post("/api/students/files/upload")
@body_limit(MAX_BODY_BYTES)
@document_response(UploadResult, 201)
@operation(errors=(400, 403, 408, 415), upload_form=True)
async def upload() -> Response:
    """Upload a medical certificate (multipart/form-data: `file`, optional `description`): a
    PDF, JPEG or PNG of at most 10 MiB whose extension agrees with its content. Stored under a
    generated name and queued for a virus scan; it gets a download URL once the scan has passed.
    Ten uploads an hour."""
    caller = await authenticate()
    decision = await enforce("upload", caller)
    s = state()
    reader: UploadReader | None = None
    try:
        check_declared_length(MAX_BODY_BYTES)
        # Only a student has certificates, and storage must be there: both are known before a
        # byte of the body is read.
        await s.db.call_as(caller.claims, "select app.check_certificate_uploader()")
        s.storage.check()
        reader = UploadReader(
            boundary_of(request.headers.get("Content-Type")),
            s.storage.writer,
            s.settings.upload_stall_s,
            s.settings.upload_deadline_s,
        )
        received = await reader.read(request.body)
    except ApiError as refusal:
        await _audit_refused(caller.key, reader, refusal)
        raise
    # The body is whole: storing it runs to its end even if the client leaves now (hypercorn
    # then cancels the view), so a file in storage always has its row and audit entry.
    row = await asyncio.shield(_store(caller.claims, caller.key, reader, received))
    return _json(_with_url(row), 201, decision.headers())


async def _audit_refused(user_id: str, reader: UploadReader | None, refusal: ApiError) -> None:
    await audit(
        "file_upload",
        "medical_certificate",
        user_id=user_id,
        metadata={**(reader.facts() if reader else {}), "status": "refused", "httpStatus": refusal.status},
        success=False,
        error=refusal.message,
    )


async def _store(
    claims: dict[str, Any], user_id: str, reader: UploadReader, received: Received
) -> dict[str, Any]:
    """Commit the written file, register it, audit the upload."""
    s = state()
    try:
        await s.storage.commit(received.writer)
        row = await _register(claims, received)
    except ApiError as refusal:
        await _audit_refused(user_id, reader, refusal)
        raise
    await audit(
        "file_upload",
        "medical_certificate",
        user_id=user_id,
        resource_id=received.file_id,
        metadata={
            "fileName": received.file_name,
            "size": received.size,
            "type": received.content_type,
            "sha256": received.sha256,
            "status": row["status"],
        },
    )
    return row


async def _register(claims: dict[str, Any], received: Received) -> dict[str, Any]:
    """The row and its scan job, in one transaction; the stored object is removed if that fails."""
    s = state()
    try:
        row: dict[str, Any] = await s.db.call_as(
            claims,
            "select app.register_certificate(%s, %s, %s, %s, %s, %s, %s)",
            (
                received.file_id,
                received.file_name,
                received.description,
                received.content_type,
                received.size,
                received.sha256,
                received.stored_name,
            ),
            read_only=False,
        )
    except ServiceUnavailableError:
        # The connection went while the transaction was in flight: it may have committed, and
        # a row must never lose its file. At worst the file is an orphan.
        raise
    except ApiError:
        await s.storage.discard(received.stored_name)
        raise
    return row


@files.get("/api/students/files")
@validate_query(FilesQuery)
@document_response(FilesPage, 200)
@operation(errors=(400,))
async def list_files(query_args: FilesQuery) -> Response:
    """The certificates the caller may see, newest first: a student's own, a teacher's classes',
    every one for an admin; staff narrow to one student with studentId."""
    caller = await authenticate()
    decision = await enforce("student_reads", caller)
    q = query_args
    items: list[dict[str, Any]] = await state().db.call_as(
        caller.claims, "select api.certificates(%s, %s, %s)", (q.studentId, q.limit, q.offset)
    )
    return _json({"files": [_with_url(item) for item in items]}, headers=decision.headers())


@files.get("/api/students/files/<file_id:id>")
@validate_query(NoQuery)
@document_response(StoredFile, 200)
@operation(errors=(400, 404), uuid_params=("id",))
async def get_file(id: str, query_args: NoQuery) -> Response:  # noqa: A002 - the path's name
    """One certificate's metadata, with a fresh signed URL (valid 24 h) while it may be downloaded."""
    file_id = path_uuid(id, "id", "a file id")
    caller = await authenticate()
    decision = await enforce("student_reads", caller)
    item: dict[str, Any] = await state().db.call_as(caller.claims, "select api.certificate(%s)", (file_id,))
    return _json(_with_url(item), headers=decision.headers())


@files.delete("/api/students/files/<file_id:id>")
@audit_refusals("file_delete", "medical_certificate")
@validate_query(NoQuery)
@document_response(DeletedFile, 200)
@operation(errors=(400, 403, 404), uuid_params=("id",))
async def delete_file(id: str, query_args: NoQuery) -> Response:  # noqa: A002 - the path's name
    """Delete a certificate (its student or an admin): its URLs stop working at once and the
    stored file is removed by the worker."""
    file_id = path_uuid(id, "id", "a file id")
    caller = await authenticate()
    decision = await enforce("student_writes", caller)
    # The deletion is audited by api.delete_certificate, in its transaction.
    await state().db.call_as(caller.claims, "select api.delete_certificate(%s)", (file_id,), read_only=False)
    return _json({"fileId": file_id, "deleted": True}, headers=decision.headers())


@files.post("/api/staff/files/<id>/review")
@audit_refusals("file_review", "medical_certificate")
@validate_query(NoQuery)
@document_request(Review)
@document_response(StoredFile, 200)
@operation(errors=(400, 403, 404, 409), uuid_params=("id",))
async def review(id: str, query_args: NoQuery) -> Response:  # noqa: A002 - the path's name
    """Approve or reject a clean certificate (a teacher of the student's class or an admin); a
    rejection needs a reason and revokes the file's URLs. The student is notified per their
    preferences; the review is audited."""
    file_id = path_uuid(id, "id", "a file id")
    caller = await authenticate()
    decision = await enforce("staff_writes", caller)
    body = await read_body(Approval, _review_shape)
    row: dict[str, Any] = await state().db.call_as(
        caller.claims,
        "select api.review_certificate(%s, %s, %s)",
        (file_id, body.decision, body.reason),
        read_only=False,
    )
    return _json(_with_url(row), headers=decision.headers())


def _review_shape(data: Any) -> type[Any]:
    """A rejection is checked as one (its reason is required), anything else as an approval."""
    return Rejection if isinstance(data, dict) and data.get("decision") == "reject" else Approval


def _audit_malformed_links(func: Handler) -> Handler:
    """A link that is not one the edge could have made (a 400: the id, the expiry or the
    signature malformed, a parameter added) is audited as a refused download. Its query is not
    recorded: it may hold a signature. Other refusals are audited by the view, with reasons."""

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await func(*args, **kwargs)
        except (ApiError, RequestSchemaValidationError) as exc:
            refusal = exc if isinstance(exc, ApiError) else as_validation_error(exc)
            if refusal.status == 400:
                raw = str(kwargs.get("id", ""))
                await audit(
                    "file_download",
                    "medical_certificate",
                    resource_id=raw.lower() if UUID_TEXT.fullmatch(raw) else None,
                    metadata={"reason": "malformed link", "field": refusal.field},
                    success=False,
                    error=refusal.message[:300],
                )
            raise

    return wrapper


@files.get("/files/<id>")
@_audit_malformed_links
@validate_query(DownloadQuery)
@operation(
    errors=(400, 403, 429, 503),
    uuid_params=("id",),
    authenticated=False,
    download=("application/pdf", "image/jpeg", "image/png"),
    download_description="The certificate, as an attachment.",
)
async def download(id: str, query_args: DownloadQuery) -> Response:  # noqa: A002 - the path's name
    """A certificate by its signed URL (no bearer token): valid for 24 h, void at once when the
    file is quarantined, rejected or deleted; a file is served only once its scan has passed."""
    file_id = path_uuid(id, "id", "a file id")
    s = state()
    identity = f"ip:{client_ip() or 'unknown'}"
    admission = await s.gate.admit("download", identity)
    if not admission.decision.allowed:
        raise await refuse(admission.decision, "download", identity, None)
    found: dict[str, Any] | None = await s.db.call_as_edge(
        "select to_jsonb(d) from app.certificate_for_download(%s) as d", (file_id,)
    )
    q = query_args
    reason = None
    if found is None:
        reason = "unknown file"
    elif found["url_version"] is None:
        # Not served in this status (the database's rule): not yet scanned, quarantined, rejected.
        reason = f"file {found['status']}"
    elif not file_urls.verify(s.settings.signing_key(), file_id, q.expires, found["url_version"], q.sig):
        reason = "expired" if q.expires < dt.datetime.now(dt.UTC).timestamp() else "bad or revoked signature"
    if reason is not None:
        await audit(
            "file_download",
            "medical_certificate",
            resource_id=file_id,
            metadata={"reason": reason, "expires": q.expires},
            success=False,
            error=REFUSED_LINK,
        )
        raise ForbiddenError(REFUSED_LINK)
    assert found is not None
    chunks = await s.storage.open_read(found["stored_name"])
    await audit(
        "file_download",
        "medical_certificate",
        # The link names no one: the entry has no user, the file's student, the client's address.
        resource_id=file_id,
        metadata={
            "fileName": found["file_name"],
            "studentId": str(found["student_id"]),
            "size": found["size_bytes"],
            "status": found["status"],
        },
    )

    @stream_with_context
    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield chunk

    response = Response(body(), content_type=found["content_type"])
    response.headers.update(
        {
            "Content-Length": str(found["size_bytes"]),
            "Content-Disposition": _attachment(found["file_name"]),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Referrer-Policy": "no-referrer",
            **admission.decision.headers(),
        }
    )
    response.timeout = None
    return response


def _attachment(name: str) -> str:
    """An attachment header that survives any display name: an ASCII fallback and RFC 6266's
    filename* with the name percent-encoded as UTF-8."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
