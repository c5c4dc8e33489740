"""The alert email: a plain-text and an HTML body built from what the delivery says."""

from __future__ import annotations

import datetime as dt
import html
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, parseaddr
from typing import Any

# Bodies in quoted-printable: readable as they are stored, unlike base64.
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP

LEVEL_NAMES = {
    "mahroom": "mahroom (barred from exams)",
    "warning": "attendance warning",
    "tasdiq": "certification (tasdiq) required",
    "consecutive_absence": "consecutive absences",
}


def _facts(delivery: dict[str, Any]) -> list[tuple[str, str]]:
    meta = delivery.get("metadata") or {}
    facts: list[tuple[str, str]] = []
    if meta.get("alert"):
        facts.append(("Level", LEVEL_NAMES.get(meta["alert"], str(meta["alert"]))))
    if meta.get("rate") is not None:
        facts.append(
            ("Attendance rate", f"{meta['rate']} % ({meta.get('present')} of {meta.get('marked')} periods)")
        )
    if meta.get("recovery") is not None:
        facts.append(("Back out of this level after", f"{meta['recovery']} consecutive present periods"))
    absences = meta.get("recentAbsences") or []
    if absences:
        facts.append(("Recent absences", ", ".join(str(d) for d in absences)))
    return facts


def _text(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, UTF8_QP)
    return part


def render(delivery: dict[str, Any], mail_from: str, preferences_url: str) -> MIMEMultipart:
    """The message for one delivery, under the delivery's fixed Message-ID."""
    name = str(delivery.get("studentName") or "student")
    title = str(delivery["title"])
    facts = _facts(delivery)
    text = [f"Dear {name},", "", str(delivery["message"]), ""]
    text += [f"{label}: {value}" for label, value in facts]
    text += ["", f"Choose which notifications you get: {preferences_url}", ""]

    rows = "".join(
        f"<tr><th align=left>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in facts
    )
    body_html = (
        "<!doctype html><html><body>"
        f"<p>Dear {html.escape(name)},</p>"
        f"<p>{html.escape(str(delivery['message']))}</p>"
        f"<table>{rows}</table>"
        f'<p><a href="{html.escape(preferences_url, quote=True)}">Choose which notifications you get</a></p>'
        "</body></html>"
    )

    # email.mime with the compat32 policy: the default policy's header registry parses every
    # header it is given, which costs more than the rest of the worker's work per email.
    msg = MIMEMultipart("alternative")
    msg["Subject"] = title if title.isascii() else Header(title, "utf-8").encode()
    msg["From"] = mail_from
    msg["To"] = str(delivery["recipient"])
    msg["Message-ID"] = str(delivery["messageId"])
    created = delivery.get("createdAt")
    when = dt.datetime.fromisoformat(created) if isinstance(created, str) else dt.datetime.now(dt.UTC)
    msg["Date"] = format_datetime(when)
    if delivery.get("severity") == "error":
        msg["Importance"] = "high"
    msg.attach(_text("plain", "\n".join(text)))
    msg.attach(_text("html", body_html))
    return msg


def sender_address(mail_from: str) -> str:
    return parseaddr(mail_from)[1] or mail_from
