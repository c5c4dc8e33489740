"""Files for the certificate tests and benchmarks: real PDFs, PNGs and JPEGs (made by fpdf2 and
Pillow), and the hostile variants the issue names."""

from __future__ import annotations

import io
import uuid

from fpdf import FPDF
from PIL import Image

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def pdf(text: str = "Medical certificate", pad_to: int = 0) -> bytes:
    """A real one-page PDF; pad_to grows it with a comment-free stream of filler."""
    doc = FPDF()
    doc.add_page()
    doc.set_font("helvetica", size=12)
    doc.text(20, 20, text)
    data = bytes(doc.output())
    if pad_to > len(data):
        # An unreferenced stream object at the end: valid PDF syntax, no active content.
        room = pad_to - len(data)
        for digits in range(1, 10):
            prefix = b"\n99 0 obj <</Length %s>> stream\n" % (b"0" * digits)
            suffix = b"\nendstream endobj\n"
            filler = room - len(prefix) - len(suffix)
            if len(str(filler)) == digits:
                data += b"\n99 0 obj <</Length %d>> stream\n" % filler + b"0" * filler + suffix
                break
        assert len(data) == pad_to
    return data


def pdf_with_open_action(escaped: bool = False) -> bytes:
    """A PDF whose catalog runs JavaScript when opened; `escaped` hides the names with #xx."""
    action = b"/Open#41ction" if escaped else b"/OpenAction"
    script = b"/J#53" if escaped else b"/JS"
    return (
        b"%PDF-1.7\n1 0 obj <</Type /Catalog /Pages 2 0 R " + action + b" 3 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
        b"3 0 obj <</S /JavaScript " + script + b" (app.alert\\('x'\\))>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def pdf_with_eicar() -> bytes:
    return b"%PDF-1.4\n% " + EICAR + b"\n" + pdf()[9:]


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg(size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 30, 200)).save(out, "JPEG")
    return out.getvalue()


def png_with_payload() -> bytes:
    """A PNG with a ZIP appended after IEND (a polyglot)."""
    return png() + b"PK\x03\x04" + b"\x00" * 26 + b"payload.exe"


def executable() -> bytes:
    """The start of a Windows executable."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str | None = None) -> tuple[bytes, str]:
    """(name, filename or None, content) parts as a multipart/form-data body; the body and its
    Content-Type."""
    boundary = boundary or f"----attendance{uuid.uuid4().hex}"
    out = bytearray()
    for name, filename, content in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
