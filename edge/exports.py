"""The two export formats of a student's records: CSV, written a batch of rows at a time, and a
PDF laid out with fpdf2. Both carry exactly what api.export_records and api.export_summary
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
# A cell that starts with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# DejaVu covers the Latin, Cyrillic and other letters students' names come in (Debian's
# fonts-dejavu-core, installed by `make system`).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def neutralise(value: Any) -> str:
    """The cell as text, with a leading quote when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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


def pdf_document(summary: dict[str, Any], rows: Sequence[Sequence[Any]]) -> bytes:
    """The student, the range, the figures, then a table by date and period."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"Attendance of {summary['studentName']}")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, "Attendance export", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(0, 6, f"{summary['studentName']}, class {summary['className']}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"From {summary['from']} to {summary['to']}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for label, key in FIGURES:
        value = summary.get(key)
        shown = "-" if value is None else (f"{value} %" if key == "attendanceRate" else str(value))
        pdf.cell(45, 6, label)
        pdf.cell(0, 6, shown, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    # Plain cells, a row at a time: fpdf2's table() lays out each cell's text as a paragraph,
    # five times slower for a year of periods.
    widths = (28, 14, 70, 26, 42)

    def line(cells: Sequence[str]) -> None:
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 5, text[:60], border="B")
        pdf.ln(5)

    pdf.set_font("DejaVu", "B", 9)
    line(("Date", "Period", "Subject", "Status", "Class"))
    pdf.set_font("DejaVu", "", 9)
    for date, period, subject, status, class_name, _marked_at in rows:
        line((date.isoformat(), str(period), str(subject), str(status), str(class_name)))
    return bytes(pdf.output())
