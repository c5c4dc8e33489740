"""Flow control for streamed request bodies.

Quart's ASGI connection reads the server's body messages as fast as they come and appends them
to the request's body, whether or not the view has read the previous ones: a client faster than
the view's storage would fill the process's memory. Here a body holds at most HIGH_WATER
unread bytes: the connection waits to read the next message until the view has taken what is
there (or until the view awaits the body whole), so hypercorn's small queue fills and the socket
pushes back on the client. A body awaited whole (JSON requests) behaves as before, under
MAX_CONTENT_LENGTH; one no view reads stays unread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from hypercorn.typing import ASGIReceiveCallable
from quart.asgi import ASGIHTTPConnection
from quart.wrappers.request import Body, Request

HIGH_WATER = 64 * 1024
# Requests whose body a view streams. Others (a GET to the event stream with a body, say) are
# read as Quart reads them, under MAX_CONTENT_LENGTH: a view that never reads its body must not
# stop the connection from seeing the client leave.
FLOW_METHODS = frozenset({"POST", "PUT", "PATCH"})


class FlowBody(Body):
    def __init__(self, expected_content_length: int | None, max_content_length: int | None) -> None:
        # A declared length is checked per view before the view runs (edge.app's begin, which
        # allows more to a view that streams its body), not against MAX_CONTENT_LENGTH here.
        super().__init__(None, max_content_length)
        # Awaited whole: no flow control (the body is wanted at once, under the usual limit).
        self._whole = False
        self._room = asyncio.Event()
        self._room.set()

    def __await__(self) -> Generator[Any, None, Any]:
        self._whole = True
        self._room.set()
        return super().__await__()

    async def __anext__(self) -> bytes:
        try:
            return await super().__anext__()
        finally:
            self._room.set()

    def append(self, data: bytes) -> None:
        super().append(data)
        if not self._whole and len(self._data) >= HIGH_WATER:
            self._room.clear()

    async def room(self) -> None:
        await self._room.wait()


class FlowRequest(Request):
    body_class = FlowBody


class FlowHTTPConnection(ASGIHTTPConnection):
    async def handle_messages(self, request: Request, receive: ASGIReceiveCallable) -> None:
        body = request.body
        flow = body if isinstance(body, FlowBody) and request.method in FLOW_METHODS else None
        while True:
            if flow is not None:
                await flow.room()
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body.set_complete()
            elif message["type"] == "http.disconnect":
                return
