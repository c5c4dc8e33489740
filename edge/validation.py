"""Query and body validation with pydantic, documented by quart-schema.

quart-schema's validate_querystring builds a pydantic TypeAdapter for the model on every
request; this decorator builds it once per endpoint and otherwise behaves the same: the same
attribute for the OpenAPI description, the same QuerystringValidationError (answered as a
400 naming the field), the model passed as `query_args`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from quart import request
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QuerystringValidationError

from edge.errors import PayloadTooLargeError, ValidationError
from edge.schemas import UUID_TEXT

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]


def validate_query(model: type[M]) -> Callable[[Handler], Handler]:
    adapter = TypeAdapter(model)

    def decorator(func: Handler) -> Handler:
        setattr(func, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, model)

        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            values: dict[str, Any] = {}
            for key, items in request.args.lists():
                if key.endswith("[]"):
                    values[key.removesuffix("[]")] = items
                else:
                    values[key] = items if len(items) > 1 else items[0]
            try:
                query = adapter.validate_python(values)
            except PydanticValidationError as error:
                raise QuerystringValidationError(error) from error
            return await func(*args, query_args=query, **kwargs)

        return wrapper

    return decorator


BODY_LIMIT_ATTRIBUTE = "_edge_body_limit"


def body_limit(limit: int) -> Callable[[Handler], Handler]:
    """A view that streams its body allows more than MAX_CONTENT_LENGTH, up to `limit`. It
    refuses a larger declared length itself (check_declared_length) once it knows the caller,
    so the refusal is audited, and counts the rest while reading."""

    def decorator(func: Handler) -> Handler:
        setattr(func, BODY_LIMIT_ATTRIBUTE, limit)
        return func

    return decorator


def path_uuid(raw: str, field: str, what: str) -> str:
    """A path parameter documented as a uuid, in its canonical form; 400 naming it otherwise."""
    if not UUID_TEXT.fullmatch(raw):
        raise ValidationError(f"{raw!r} is not {what} (a uuid).", field=field)
    return raw.lower()


async def read_body(model: type[M], choose: Callable[[Any], type[M]] | None = None) -> M:
    """The JSON body as `model` (a 400 naming the field otherwise). Called by the view after it
    has authenticated the caller, so a request without a token is a 401 whatever its body;
    the view documents the body with quart-schema's document_request. For a body of several
    shapes, `choose` picks the one to check it against, so the error names that shape's field."""
    raw = await request.get_data(as_text=False)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("The body is not a JSON document.") from exc
    try:
        return TypeAdapter(choose(data) if choose else model).validate_python(data)
    except PydanticValidationError as error:
        raise RequestSchemaValidationError(error) from error


def as_validation_error(error: RequestSchemaValidationError) -> ValidationError:
    """The first failing field, by name (P41)."""
    inner: Any = error.validation_error
    errors = inner.errors() if hasattr(inner, "errors") else []
    if errors:
        first = errors[0]
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__") or None
        if first.get("type") == "extra_forbidden":
            return ValidationError(f"Unknown parameter {field!r}.", field=field)
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return ValidationError(f"{field}: {message}.", field=field)
    return ValidationError(str(inner) or "The request is not valid.")


def check_declared_length(limit: int) -> None:
    """413 for a declared body length over `limit`, before a byte of the body is read."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLargeError(f"The request body is larger than {limit} bytes.")
