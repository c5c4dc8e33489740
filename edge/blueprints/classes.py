"""Staff endpoints for one class: its teachers and admins (the database decides)."""

from __future__ import annotations

import uuid

from quart import Blueprint, Response
from quart_schema import document_response

from edge.cache import CacheSpec
from edge.errors import ValidationError
from edge.schemas import ClassRankings, ClassStatistics, ErrorResponse, NoQuery
from edge.serving import authenticate, serve
from edge.validation import validate_query

classes = Blueprint("classes", __name__, url_prefix="/api/classes")

CLASS_TTL = 300


def _class_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise ValidationError(f"{raw!r} is not a class id (uuid).", field="id") from exc


@classes.get("/<class_id>/statistics")
@validate_query(NoQuery)
@document_response(ClassStatistics, 200)
@document_response(ErrorResponse, 403)
@document_response(ErrorResponse, 404)
async def statistics(class_id: str, query_args: NoQuery) -> Response:
    """ClassStatistics of one class."""
    cid = _class_id(class_id)
    caller = await authenticate()
    spec = CacheSpec(caller.key, f"class:{cid}:statistics", CLASS_TTL, class_id=cid)
    return await serve(
        "class_statistics",
        "staff_reads",
        "select api.class_statistics(%s::uuid)",
        (cid,),
        cache=spec,
        caller=caller,
    )


@classes.get("/<class_id>/rankings")
@validate_query(NoQuery)
@document_response(ClassRankings, 200)
@document_response(ErrorResponse, 403)
@document_response(ErrorResponse, 404)
async def rankings(class_id: str, query_args: NoQuery) -> Response:
    """Every ranked student of one class, best first."""
    cid = _class_id(class_id)
    caller = await authenticate()
    spec = CacheSpec(caller.key, f"class:{cid}:rankings", CLASS_TTL, class_id=cid)
    return await serve(
        "class_rankings",
        "staff_reads",
        "select api.class_rankings(%s::uuid)",
        (cid,),
        cache=spec,
        caller=caller,
    )
