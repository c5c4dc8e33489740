"""What a certificate is checked for before staff see it.

Built-in checks run on every file whatever else is configured: the EICAR test string, a type
that disagrees with the recorded one, active content in PDFs (names hidden with #xx escapes and
names inside compressed streams included), data after a PNG's IEND or a JPEG's end of image,
a PDF or ZIP inside an image, and images that do not decode. clamd, when configured, is asked
over its INSTREAM protocol as well.

Each check returns threat names in clamd's style (Engine.Kind.Detail); no threat means clean.
"""

from __future__ import annotations

import asyncio
import io
import re
import struct
import urllib.parse
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MAGIC = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
# PDF names that make a viewer act (run script, launch, open attachments or rich media).
ACTIVE_NAMES = {
    b"JavaScript": "JavaScript",
    b"JS": "JavaScript",
    b"OpenAction": "OpenAction",
    b"AA": "AdditionalActions",
    b"Launch": "Launch",
    b"EmbeddedFile": "EmbeddedFile",
    b"EmbeddedFiles": "EmbeddedFile",
    b"XFA": "XFA",
    b"RichMedia": "RichMedia",
}
# A PDF name: a solidus and regular characters (PDF 32000-1 7.3.5); #xx escapes any byte.
PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]+)")
HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"stream\r?\n")
# Inflating streams is bounded: a small file may hold a compression bomb.
MAX_INFLATED_BYTES = 64 * 1024 * 1024
EMBEDDED_SIGNATURES = {b"%PDF-": "EmbeddedPDF", b"PK\x03\x04": "EmbeddedZip"}
# After a JPEG's start of scan: a marker that is neither byte stuffing (FF00) nor a restart.
JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
MAX_IMAGE_PIXELS = 40_000_000


def builtin_threats(data: bytes, content_type: str) -> list[str]:
    threats: list[str] = []
    if EICAR in data:
        threats.append("Builtin.Test.EICAR")
    if not data.startswith(MAGIC.get(content_type, b"\x00invalid")):
        threats.append("Builtin.Type.Mismatch")
        return threats
    if content_type == "application/pdf":
        threats += pdf_threats(data)
    else:
        threats += image_threats(data, content_type)
    return threats


def _names(chunk: bytes) -> set[bytes]:
    """The PDF names in a chunk, #xx escapes decoded. An /OpenAction whose value is an array is a
    destination (open at this page and zoom), which generators write routinely: not an action."""
    found = set()
    for match in PDF_NAME.finditer(chunk):
        name = match.group(1)
        if b"#" in name:
            name = HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name)
        if name == b"OpenAction" and chunk[match.end() : match.end() + 64].lstrip().startswith(b"["):
            continue
        found.add(name)
    return found


def _inflated_streams(data: bytes) -> list[bytes]:
    """The contents of the PDF's streams that inflate with zlib (FlateDecode), within a budget."""
    out: list[bytes] = []
    budget = MAX_INFLATED_BYTES
    for match in PDF_STREAM.finditer(data):
        start = match.end()
        end = data.find(b"endstream", start)
        if end < 0 or budget <= 0:
            break
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[start:end], budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        out.append(inflated)
    return out


def pdf_threats(data: bytes) -> list[str]:
    names = _names(data)
    for inflated in _inflated_streams(data):
        names |= _names(inflated)
    kinds = sorted({ACTIVE_NAMES[n] for n in names if n in ACTIVE_NAMES})
    return [f"Builtin.PDF.{kind}" for kind in kinds]


def _png_end(data: bytes) -> int | None:
    """The offset just past IEND's CRC, or None when the chunks do not parse."""
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    """The offset just past the end-of-image marker, walking segments and scans."""
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > len(data):
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            found = JPEG_MARKER.search(data, pos)
            if found is None:
                return None
            pos = found.start()
    return None


def image_threats(data: bytes, content_type: str) -> list[str]:
    threats = []
    end = _png_end(data) if content_type == "image/png" else _jpeg_end(data)
    if end is None:
        threats.append("Builtin.Image.Malformed")
    elif end < len(data):
        threats.append("Builtin.Image.TrailingData")
    for signature, name in EMBEDDED_SIGNATURES.items():
        if data.find(signature, 1) >= 0:
            threats.append(f"Builtin.Image.{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    threats.append("Builtin.Image.TooLarge")
                else:
                    image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            threats.append("Builtin.Image.TooLarge")
        except Exception:  # noqa: BLE001 - any failure to decode is the finding
            threats.append("Builtin.Image.Undecodable")
    return sorted(set(threats))


class ClamdError(Exception):
    """clamd could not be asked, or answered with an error: the scan is retried."""


@dataclass(frozen=True)
class Clamd:
    """clamd's INSTREAM over TCP (tcp://host:port) or a Unix socket (unix:///path).

    Written here rather than taken from a library: the Python clamd clients on PyPI (clamd,
    pyclamd) are synchronous and unmaintained, and the protocol is a length-prefixed stream.
    """

    url: str
    timeout_s: float = 30.0
    chunk: int = 64 * 1024

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme == "unix":
            return await asyncio.open_unix_connection(parts.path)
        if parts.scheme == "tcp" and parts.hostname and parts.port:
            return await asyncio.open_connection(parts.hostname, parts.port)
        raise ClamdError(f"CLAMD_URL must be tcp://host:port or unix:///path, not {self.url!r}")

    async def scan(self, data: bytes) -> list[str]:
        """The signatures clamd found (empty: clean)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await self._connect()
                try:
                    writer.write(b"zINSTREAM\0")
                    for start in range(0, len(data), self.chunk):
                        piece = data[start : start + self.chunk]
                        writer.write(struct.pack(">I", len(piece)) + piece)
                        await writer.drain()
                    writer.write(struct.pack(">I", 0))
                    await writer.drain()
                    reply = (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace")
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ClamdError(f"clamd at {self.url}: {exc!r}") from exc
        # "stream: OK", "stream: <signature> FOUND", or "... ERROR" (size limit, ...).
        verdict = reply.removeprefix("stream:").strip()
        if verdict == "OK":
            return []
        if verdict.endswith(" FOUND"):
            return [f"Clamd.{verdict.removesuffix(' FOUND').strip()}"]
        raise ClamdError(f"clamd answered {reply!r}")

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await self._connect()
                writer.write(b"zPING\0")
                await writer.drain()
                reply = await reader.readuntil(b"\0")
                writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ClamdError):
            return False
        return reply.rstrip(b"\0") == b"PONG"
