"""Reading a certificate upload: a multipart body parsed as it streams in (werkzeug's sans-IO
decoder), the file's bytes written to storage as they arrive, its size and sha256 counted on the
way, its real type taken from its first bytes.

Everything a client could use to make the edge work or hold memory is bounded and refused as
soon as it is passed: the file's size (413), the body's size, the preamble before the first
boundary, a part's headers, the description, the number of parts, the wait for each chunk and
the whole upload's time (408). A body that is not the one form this endpoint takes (`file`,
optional `description`) is refused at its first unexpected part, so junk padding costs the
edge one chunk's work.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData, Preamble, State

from edge.errors import (
    PayloadTooLargeError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from edge.storage import Writer

MAX_FILE_BYTES = 10 * 1024 * 1024
# Boundaries, part headers and the description around the file.
MAX_OVERHEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = MAX_FILE_BYTES + MAX_OVERHEAD_BYTES
MAX_PREAMBLE_BYTES = 1024
MAX_PART_HEAD_BYTES = 4 * 1024
MAX_DESCRIPTION_CHARS = 1000
MAX_NAME_CHARS = 255
NO_BOUNDARY = "The body does not start with a multipart boundary."

# The types a certificate may have: magic bytes at offset 0 and the extensions that agree.
TYPES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "application/pdf": (b"%PDF-", ("pdf",)),
    "image/png": (b"\x89PNG\r\n\x1a\n", ("png",)),
    "image/jpeg": (b"\xff\xd8\xff", ("jpg", "jpeg")),
}
STORED_EXTENSION = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
SNIFF_BYTES = max(len(magic) for magic, _ in TYPES.values())
# Bidirectional controls make "cod.exe" look like "exe.doc"; refused with the control characters.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def sniff(head: bytes) -> str | None:
    """The media type the first bytes say, among the allowed ones; None for anything else."""
    for media_type, (magic, _) in TYPES.items():
        if head.startswith(magic):
            return media_type
    return None


def display_name(raw: str | None) -> str:
    """The client's file name as display text: refused (400) when it is empty, too long, has
    path parts or control characters; NFC-normalised and trimmed otherwise."""
    if raw is None:
        raise ValidationError("The file part needs a filename.", field="file")
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise ValidationError("The file name is empty.", field="file")
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"The file name is longer than {MAX_NAME_CHARS} characters.", field="file")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValidationError("The file name may not contain path parts.", field="file")
    if any(unicodedata.category(c) == "Cc" for c in name) or BIDI_CONTROLS.search(name):
        raise ValidationError("The file name contains control characters.", field="file")
    return name


def check_extension(name: str, media_type: str) -> None:
    """The name's extension must be one the sniffed type allows (415 otherwise)."""
    _, dot, extension = name.rpartition(".")
    extension = extension.lower() if dot else ""
    allowed = TYPES[media_type][1]
    if extension not in allowed:
        shown = f".{extension}" if extension else "no extension"
        raise UnsupportedMediaTypeError(
            f"The file's content is {media_type} but its name has {shown}; use .{' or .'.join(allowed)}.",
            field="file",
        )


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get("boundary", "")
    if kind != "multipart/form-data" or not boundary:
        raise UnsupportedMediaTypeError(
            "Send the certificate as multipart/form-data with a boundary.", field="file"
        )
    if len(boundary) > 70 or not boundary.isascii():
        raise ValidationError(
            "The multipart boundary is not valid (at most 70 ASCII characters).", field="file"
        )
    return boundary.encode("ascii")


@dataclass
class Received:
    file_id: str
    stored_name: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    description: str | None
    writer: Writer


OpenWriter = Callable[[str, str], Awaitable[Writer]]


class UploadReader:
    """One upload's parser and counters. `read` returns once the body is complete and the file
    is written (not yet committed); on any refusal the partial object is removed."""

    def __init__(self, boundary: bytes, open_writer: OpenWriter, stall_s: float, deadline_s: float) -> None:
        self._decoder = MultipartDecoder(boundary, max_parts=2)
        self._open_writer = open_writer
        self._stall_s = stall_s
        self._deadline_s = deadline_s
        self._body_bytes = 0
        self._part: str | None = None
        self._file_name: str | None = None
        self._head = bytearray()
        self._media_type: str | None = None
        self._writer: Writer | None = None
        self._digest = hashlib.sha256()
        self._size = 0
        self._description: bytearray | None = None
        self._file_id = str(uuid.uuid4())
        self._done = False

    def facts(self) -> dict[str, object]:
        """What is known of the upload so far, for the audit entry of a refusal."""
        return {
            "fileName": self._file_name,
            "size": self._size,
            "type": self._media_type,
            "bodyBytes": self._body_bytes,
        }

    async def read(self, chunks: AsyncIterator[bytes]) -> Received:
        try:
            await self._consume(chunks)
            return self._received()
        except BaseException:
            if self._writer is not None:
                await self._writer.abort()
            raise

    async def _consume(self, chunks: AsyncIterator[bytes]) -> None:
        iterator = aiter(chunks)
        loop = asyncio.get_running_loop()
        # A body that trickles in never stalls: the whole upload has a deadline too.
        deadline = loop.time() + self._deadline_s
        while not self._done:
            try:
                async with asyncio.timeout_at(min(loop.time() + self._stall_s, deadline)):
                    chunk = await anext(iterator)
            except StopAsyncIteration:
                self._feed(None)
                await self._drain()
                break
            except TimeoutError:
                if loop.time() >= deadline:
                    message = f"The upload took longer than {self._deadline_s:g} s."
                else:
                    message = f"The upload stalled: no data for {self._stall_s:g} s."
                raise RequestTimeoutError(message, field="file") from None
            self._body_bytes += len(chunk)
            if self._body_bytes > MAX_BODY_BYTES:
                raise PayloadTooLargeError(f"The upload is larger than {MAX_FILE_BYTES} bytes.", field="file")
            self._feed(chunk)
            await self._drain()
            self._check_buffers()

    def _feed(self, chunk: bytes | None) -> None:
        try:
            self._decoder.receive_data(chunk)
        except RequestEntityTooLarge as exc:
            raise PayloadTooLargeError("The multipart body is too large.") from exc

    async def _drain(self) -> None:
        while True:
            try:
                event = self._decoder.next_event()
            except RequestEntityTooLarge:
                raise ValidationError("Send one file part and at most a description.", field="file") from None
            except ValueError as exc:
                raise ValidationError(f"The multipart body is malformed: {exc}.", field="file") from None
            if isinstance(event, NeedData):
                return
            if isinstance(event, Preamble) and len(event.data) > MAX_PREAMBLE_BYTES:
                raise ValidationError(NO_BOUNDARY, field="file")
            if isinstance(event, File):
                self._start_file(event)
            elif isinstance(event, Field):
                self._start_field(event)
            elif isinstance(event, Data):
                await self._data(event.data, event.more_data)
            elif isinstance(event, Epilogue):
                self._done = True
                return

    def _start_file(self, event: File) -> None:
        if event.name != "file" or self._file_name is not None:
            raise ValidationError(
                f"Unexpected file part {event.name!r}: send one part named file.", field="file"
            )
        self._file_name = display_name(event.filename)
        self._part = "file"

    def _start_field(self, event: Field) -> None:
        if event.name != "description" or self._description is not None:
            raise ValidationError(
                f"Unexpected part {event.name!r}: the form takes file and description.",
                field=event.name or "file",
            )
        self._description = bytearray()
        self._part = "description"

    async def _data(self, data: bytes, more: bool) -> None:
        if self._part == "description":
            assert self._description is not None
            self._description += data
            if len(self._description) > 4 * MAX_DESCRIPTION_CHARS:
                raise ValidationError(
                    f"The description is longer than {MAX_DESCRIPTION_CHARS} characters.", field="description"
                )
        elif self._part == "file":
            await self._file_data(data, final=not more)
        if not more:
            self._part = None

    async def _file_data(self, data: bytes, final: bool) -> None:
        self._size += len(data)
        if self._size > MAX_FILE_BYTES:
            raise PayloadTooLargeError(f"The file is larger than {MAX_FILE_BYTES} bytes.", field="file")
        if self._writer is None:
            self._head += data
            if len(self._head) < SNIFF_BYTES and not final:
                return
            data, self._head = bytes(self._head), bytearray()
            await self._open(data)
        if data:
            self._digest.update(data)
            assert self._writer is not None
            await self._writer.write(data)

    async def _open(self, head: bytes) -> None:
        if not head:
            raise ValidationError("The file is empty.", field="file")
        media_type = sniff(head)
        if media_type is None:
            raise UnsupportedMediaTypeError(
                "The file is not a PDF, JPEG or PNG (by its content).", field="file"
            )
        assert self._file_name is not None
        self._media_type = media_type
        check_extension(self._file_name, media_type)
        self._writer = await self._open_writer(self._stored_name(), media_type)

    def _stored_name(self) -> str:
        assert self._media_type is not None
        return f"{self._file_id}.{STORED_EXTENSION[self._media_type]}"

    def _check_buffers(self) -> None:
        """What the decoder holds while it looks for a boundary or the end of a part's headers."""
        state, held = self._decoder.state, len(self._decoder.buffer)
        if state == State.PREAMBLE and held > MAX_PREAMBLE_BYTES:
            raise ValidationError(NO_BOUNDARY, field="file")
        if state == State.PART and held > MAX_PART_HEAD_BYTES:
            raise ValidationError("A part's headers are too long.", field="file")

    def _received(self) -> Received:
        if self._file_name is None:
            raise ValidationError("The form has no file part.", field="file")
        if self._writer is None:
            if self._size == 0:
                raise ValidationError("The file is empty.", field="file")
            raise ValidationError("The multipart body ended inside the file.", field="file")
        description = None
        if self._description is not None:
            try:
                text = self._description.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ValidationError("The description is not UTF-8 text.", field="description") from None
            if len(text) > MAX_DESCRIPTION_CHARS:
                raise ValidationError(
                    f"The description is longer than {MAX_DESCRIPTION_CHARS} characters.", field="description"
                )
            if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
                raise ValidationError("The description contains control characters.", field="description")
            description = text or None
        assert self._media_type is not None
        return Received(
            file_id=self._file_id,
            stored_name=self._stored_name(),
            file_name=self._file_name,
            content_type=self._media_type,
            size=self._size,
            sha256=self._digest.hexdigest(),
            description=description,
            writer=self._writer,
        )
