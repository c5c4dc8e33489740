"""Baselines for the idle-stream memory of bench/live.py: an event stream that sends its first
message and then waits, served by the same hypercorn configuration as the edge, written two
ways. `quart_app`: a Quart view returning a streaming Response (as the edge's stream is).
`asgi_app`: the same stream as a bare ASGI callable, with no framework around it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from quart import Quart, Response

FIRST = b"retry: 3000\nid: 0\n\n"
PATH = "/api/students/notifications/sse"

quart_app = Quart(__name__)


@quart_app.get(PATH)
async def stream() -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield FIRST
        await asyncio.get_running_loop().create_future()

    response = Response(body(), content_type="text/event-stream")
    response.timeout = None
    return response


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    await send({"type": "http.response.body", "body": FIRST, "more_body": True})
    await receive()  # the client's disconnect
