"""The public contract in the OpenAPI document: every status an operation can answer, with its
body and headers, path parameters with their formats, required query parameters, and the
bearer scheme. Each view says what it can answer with @operation; what every operation of a
kind answers is added here, so no view repeats it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel
from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from edge.schemas import ErrorResponse

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "_edge_operation"
BEARER = "bearerAuth"

# Answered by any operation: a declared body over the limit, a request head over the limit, a bug.
EVERY_OPERATION = (413, 431, 500)
# Answered by any authenticated operation: no valid token, a rate limit, a database that is away.
AUTHENTICATED = (401, 429, 503)


@dataclass(frozen=True)
class Operation:
    errors: tuple[int, ...] = ()
    uuid_params: tuple[str, ...] = ()
    authenticated: bool = True
    cached: bool = False
    event_stream: str = ""
    # A file to download: its media types and what it holds.
    download: tuple[str, ...] = ()
    download_description: str = ""
    # The certificate upload's multipart form.
    upload_form: bool = False


UPLOAD_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A PDF, JPEG or PNG of at most 10 MiB with a matching extension.",
                    },
                    "description": {"type": "string", "maxLength": 1000},
                },
            },
            "encoding": {"file": {"contentType": "application/pdf, image/jpeg, image/png"}},
        }
    },
}


def operation(
    *,
    errors: Iterable[int] = (),
    uuid_params: Iterable[str] = (),
    authenticated: bool = True,
    cached: bool = False,
    event_stream: str = "",
    download: Iterable[str] = (),
    download_description: str = "",
    upload_form: bool = False,
) -> Callable[[F], F]:
    """What a view can answer besides its documented success: its own error statuses, which path
    parameters are uuids, whether it takes a bearer token, whether its responses are cached, for
    a stream of Server-Sent Events what the stream carries, and for a file its media types."""

    def decorator(func: F) -> F:
        declared = Operation(
            tuple(errors),
            tuple(uuid_params),
            authenticated,
            cached,
            event_stream,
            tuple(download),
            download_description,
            upload_form,
        )
        setattr(func, ATTRIBUTE, declared)
        return func

    return decorator


def _header(description: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


REQUEST_ID = {
    "X-Request-ID": _header("The request's id: the client's X-Request-ID when sane.", {"type": "string"})
}
RATE_LIMIT = {
    "X-RateLimit-Limit": _header("Requests allowed in the window.", {"type": "integer"}),
    "X-RateLimit-Remaining": _header("Requests left in the window.", {"type": "integer"}),
    "X-RateLimit-Reset": _header("When the window frees a request (Unix seconds).", {"type": "integer"}),
}
RETRY_AFTER = {"Retry-After": _header("Seconds to wait.", {"type": "integer"})}
CACHE = {
    "X-Cache": _header(
        "HIT, MISS, STALE or BYPASS (absent with the cache switched off).",
        {"type": "string", "enum": ["HIT", "MISS", "STALE", "BYPASS"]},
        required=False,
    ),
    "Age": _header("Seconds since the figures were computed.", {"type": "integer"}, required=False),
    "X-Data-Stale": _header(
        "true when the figures are older than their freshness bound.", {"type": "string"}, required=False
    ),
}


class ContractProvider(OpenAPIProvider):
    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        declared: Operation = getattr(func, ATTRIBUTE, Operation(authenticated=False))
        error_response, error_components = self.build_response_object(ErrorResponse, None)
        components.update(error_components)
        for operations in paths.values():
            for method, op in list(operations.items()):
                operations[method] = self._complete(op, declared, error_response)
        return paths, components

    def _complete(self, op: dict[str, Any], declared: Operation, error: dict[str, Any]) -> dict[str, Any]:
        op = {**op, "parameters": [dict(p) for p in op["parameters"]], "responses": dict(op["responses"])}
        for parameter in op["parameters"]:
            if parameter["in"] == "path" and parameter["name"] in declared.uuid_params:
                parameter["schema"] = {"type": "string", "format": "uuid"}
        if declared.event_stream:
            op["responses"][200] = {
                "description": declared.event_stream,
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        if declared.download:
            op["responses"][200] = {
                "description": declared.download_description,
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in declared.download},
            }
        statuses = set(declared.errors) | set(EVERY_OPERATION)
        if declared.authenticated:
            statuses |= set(AUTHENTICATED)
            op["security"] = [{BEARER: []}]
        for status in sorted(statuses):
            op["responses"].setdefault(status, {**error, "description": HTTPStatus(status).phrase})
        for status, response in op["responses"].items():
            headers = dict(REQUEST_ID)
            code = int(status)
            if declared.authenticated and (200 <= code < 300 or code == 429):
                headers.update(RATE_LIMIT)
            if code == 429:
                headers.update(RETRY_AFTER)
            if declared.cached and 200 <= code < 300:
                headers.update(CACHE)
            op["responses"][status] = {**response, "headers": headers}
        if declared.upload_form:
            op["requestBody"] = UPLOAD_FORM
        if "requestBody" in op:
            # Every body this edge documents is required: an empty one is a 400.
            op["requestBody"] = {**op["requestBody"], "required": True}
        return op

    def build_querystring_parameters(self, model: type[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """quart-schema reads `required` from each property; pydantic lists it on the model."""
        parameters, definitions = super().build_querystring_parameters(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            required = {
                (field.alias or name) for name, field in model.model_fields.items() if field.is_required()
            }
            for parameter in parameters:
                parameter["required"] = parameter["name"] in required
        return parameters, definitions
