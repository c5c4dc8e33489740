"""The two export formats of a student's records: CSV, written a batch of rows at a time, and a
PDF laid out with fpdf2. Both carry exactly what app.export_records and app.export_summary
return; the caller streams or sends the bytes and audits their sha256."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

CSV_HEADER = ("date", "period", "subject", "status", "class", "marked_at")
# A cell that starts with one of these is a formula to a spreadsheet (CSV injection), also
# after leading spaces (which importers may trim) and in their full-width forms (which some
# convert); a leading tab, CR or LF is refused whatever follows.
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
CONTROL_STARTS = ("\t", "\r", "\n")
# DejaVu covers the Latin, Cyrillic and other letters students' names come in (Debian's
# fonts-dejavu-core, installed by `make system`).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def neutralise(value: Any) -> str:
    """The cell as text, with a leading quote when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(CONTROL_STARTS) or text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_chunk(rows: Iterable[Sequence[Any]], header: bool = False) -> bytes:
    """Rows as CSV (CRLF line ends, every cell neutralised), UTF-8; the header with a BOM first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        out.write("\ufeff")
        writer.writerow(CSV_HEADER)
    for date, period, subject, status, class_name, marked_at in rows:
        writer.writerow(
            [
                neutralise(date.isoformat()),
                neutralise(period),
                neutralise(subject),
                neutralise(status),
                neutralise(class_name),
                neutralise(marked_at.isoformat() if isinstance(marked_at, dt.datetime) else marked_at),
            ]
        )
    return out.getvalue().encode("utf-8")


FIGURES = (
    ("Attendance rate", "attendanceRate"),
    ("Marked periods", "totalClasses"),
    ("Present", "presentDays"),
    ("Absent", "absentDays"),
    ("Sick", "sickDays"),
    ("Leave", "leaveDays"),
    ("Not marked", "notMarked"),
)


# Table columns: where each starts on the page (mm) and how many characters it shows.
COLUMNS = ((15, "Date", 10), (42, "Period", 6), (58, "Subject", 40), (128, "Status", 12), (152, "Class", 24))
TOP, BOTTOM, LINE = 20.0, 282.0, 4.2


def pdf_document(summary: dict[str, Any], rows: Sequence[Sequence[Any]]) -> bytes:
    """The student, the range, the figures, then a table by date and period (its heading on
    every page). Text is placed with fpdf2's text(), one call per cell: its cell() lays out each
    cell as a paragraph, which made a year of periods four times slower."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.set_title(f"Attendance of {summary['studentName']}")
    pdf.add_page()
    y = TOP
    pdf.set_font("DejaVu", "", 15)
    pdf.text(15, y, "Attendance export")
    pdf.set_font("DejaVu", "", 10)
    y += 8
    pdf.text(15, y, f"{summary['studentName']}, class {summary['className']}")
    y += 5.5
    pdf.text(15, y, f"From {summary['from']} to {summary['to']}")
    y += 8
    for label, key in FIGURES:
        value = summary.get(key)
        pdf.text(15, y, label)
        pdf.text(60, y, "-" if value is None else (f"{value} %" if key == "attendanceRate" else str(value)))
        y += 5.5
    y += 4

    def heading(at: float) -> float:
        pdf.set_font("DejaVu", "", 9)
        for x, title, _width in COLUMNS:
            pdf.text(x, at, title)
        pdf.line(15, at + 1.2, 195, at + 1.2)
        pdf.set_font("DejaVu", "", 8)
        return at + LINE + 1

    y = heading(y)
    for date, period, subject, status, class_name, _marked_at in rows:
        if y > BOTTOM:
            pdf.add_page()
            y = heading(TOP)
        cells = (date.isoformat(), str(period), str(subject), str(status), str(class_name))
        for (x, _title, width), text in zip(COLUMNS, cells, strict=True):
            pdf.text(x, y, text[:width])
        y += LINE
    return bytes(pdf.output())
