"""Staff endpoints for one class: its teachers and admins (the database decides)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import document_response

from edge.cache import CacheSpec
from edge.contract import operation
from edge.schemas import ClassRankings, ClassStatistics, NoQuery
from edge.serving import authenticate, serve
from edge.validation import path_uuid, validate_query

classes = Blueprint("classes", __name__, url_prefix="/api/classes")

CLASS_TTL = 300


@classes.get("/<id>/statistics")
@validate_query(NoQuery)
@document_response(ClassStatistics, 200)
@operation(errors=(400, 403, 404), uuid_params=("id",), cached=True)
async def statistics(id: str, query_args: NoQuery) -> Response:
    """ClassStatistics of one class (its teachers and admins)."""
    cid = path_uuid(id, "id", "a class id")
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


@classes.get("/<id>/rankings")
@validate_query(NoQuery)
@document_response(ClassRankings, 200)
@operation(errors=(400, 403, 404), uuid_params=("id",), cached=True)
async def rankings(id: str, query_args: NoQuery) -> Response:
    """Every ranked student of one class, best first (its teachers and admins)."""
    cid = path_uuid(id, "id", "a class id")
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
