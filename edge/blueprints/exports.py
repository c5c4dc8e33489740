"""A student's export of their own records, as CSV (streamed) or PDF. The database decides whose
records they are and checks the range; the edge lays them out, limits exports to five an hour
(P17) and audits each one with its format, range, size and the sha256 of what it sent (P21)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from quart import Blueprint, Response, stream_with_context

from edge.contract import operation
from edge.exports import csv_chunk, pdf_document
from edge.schemas import ExportQuery
from edge.serving import audit, audit_refusals, authenticate, enforce, state
from edge.validation import validate_query

exports = Blueprint("exports", __name__, url_prefix="/api/students")

RECORDS = "select * from app.export_records(%s, %s)"


@exports.get("/export")
@audit_refusals("data_export", "attendance_records")
@validate_query(ExportQuery)
@operation(
    errors=(400, 403),
    download=("text/csv", "application/pdf"),
    download_description="The export, as an attachment (Content-Disposition names the file).",
)
async def export(query_args: ExportQuery) -> Response:
    """The caller's records from `from` to `to` (both included): CSV (UTF-8 with a BOM, CRLF,
    cells a spreadsheet would read as formulas neutralised) or a PDF with the figures of the
    range and a table by date and period. Five exports an hour."""
    caller = await authenticate()
    decision = await enforce("export", caller)
    db = state().db
    span = (query_args.from_, query_args.to)
    # The summary first: a bad range or a caller who is not a student fails before any byte.
    summary: dict[str, Any] = await db.call_as(caller.claims, "select app.export_summary(%s, %s)", span)
    name = f"attendance-{query_args.from_}-{query_args.to}.{query_args.format}"
    headers = {
        **decision.headers(),
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    facts = {"format": query_args.format, "from": str(query_args.from_), "to": str(query_args.to)}

    if query_args.format == "pdf":
        rows: list[tuple[Any, ...]] = []
        async for batch in db.stream_as(caller.claims, RECORDS, span):
            rows.extend(batch)
        document = await asyncio.to_thread(pdf_document, summary, rows)
        await audit(
            "data_export",
            "attendance_records",
            user_id=caller.key,
            metadata={
                **facts,
                "rows": len(rows),
                "bytes": len(document),
                "sha256": hashlib.sha256(document).hexdigest(),
            },
        )
        return Response(document, headers=headers, content_type="application/pdf")

    @stream_with_context
    async def body() -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        sent = rows_sent = 0
        complete = False
        try:
            first = True
            async for batch in db.stream_as(caller.claims, RECORDS, span):
                chunk = csv_chunk(batch, header=first)
                first = False
                digest.update(chunk)
                sent += len(chunk)
                rows_sent += len(batch)
                yield chunk
            if first:  # no rows: the header alone
                chunk = csv_chunk((), header=True)
                digest.update(chunk)
                sent += len(chunk)
                yield chunk
            complete = True
        finally:
            await audit(
                "data_export",
                "attendance_records",
                user_id=caller.key,
                metadata={**facts, "rows": rows_sent, "bytes": sent, "sha256": digest.hexdigest()},
                success=complete,
                error=None if complete else "the client left before the export was complete",
            )

    response = Response(body(), headers=headers, content_type="text/csv; charset=utf-8")
    response.timeout = None
    return response
