"""Turning an outbox row into an email: text and HTML parts from the recipient's language's
templates, a subject naming the incident and what happened, and the headers that make it
thread, be recognised when resent, and be known as automatic.

User text never breaks the message: the HTML templates are autoescaped, and every header
value is folded onto one line before it is set.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gql_support.notify.catalog import ENUM_FIELDS, FIELDS, SUBJECTS, VALUES, language_of
from gql_support.notify.models import NoticeReason

_TEMPLATES = Path(__file__).parent / "templates"
_environment = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    # The templates ship with the code: no need to stat them on every message.
    auto_reload=False,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
#: Longest summary of the description shown in a subject.
MAX_SUMMARY = 80


@dataclass(frozen=True, kw_only=True)
class Sender:
    """Who email comes from and where its links point, from the settings."""

    mail_from: str
    public_url: str
    #: (attachment id, recipient id) -> a download link for that recipient, or None: no links.
    file_link: Callable[[int, int], str] | None = None

    @cached_property
    def address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @cached_property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "gql-support.invalid"

    @cached_property
    def from_header(self) -> str:
        name, address = parseaddr(one_line(self.mail_from))
        return formataddr((name, address), "utf-8")


@dataclass(frozen=True, kw_only=True)
class Email:
    """A message ready for the wire."""

    message_id: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One outbox row as the renderer needs it."""

    id: int
    reason: NoticeReason
    to_address: str
    to_name: str
    locale: str
    payload: dict[str, Any]
    created_at: datetime
    recipient_id: int | None = None


def one_line(text: str) -> str:
    """Text fit for a header: control characters (CR, LF…) become spaces, runs collapse."""
    return " ".join(_CONTROL.sub(" ", text).split())


def thread_id(incident_id: int, domain: str) -> str:
    """The Message-ID every email about an incident refers to, so they thread together."""
    return f"<incident-{incident_id}@{domain}>"


def message_id(notice_id: int, domain: str) -> str:
    """The Message-ID of one notification: the same each time it is sent."""
    return f"<notice-{notice_id}@{domain}>"


def incident_link(public_url: str, number: int) -> str:
    return f"{public_url.rstrip('/')}/incidents/{number}"


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _value(language: str, field: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if field in ENUM_FIELDS:
        return VALUES[language].get(value, value)
    return value


def subject_of(notice: Notice, language: str) -> str:
    """Names the incident and what happened, in the recipient's language."""
    payload = notice.payload
    incident = payload["incident"]
    subjects = SUBJECTS[language]
    summary = one_line(incident["summary"])
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    key: NoticeReason | str = notice.reason
    status = None
    if notice.reason is NoticeReason.UPDATED:
        status = next((c for c in payload["changes"] if c["field"] == "status"), None)
        if status is not None:
            key = "status"
        elif payload["comment"] is not None and not payload["changes"]:
            key = "comment"
    text = subjects[key].format(
        number=incident["number"],
        summary=summary,
        actor=payload["actor"],
        status=status and _value(language, "status", status["to"]),
    )
    return one_line(text)


def _header(value: str) -> str:
    """A header value on one line: as is when ASCII, else RFC 2047 encoded words (base64, at
    most 45 bytes of UTF-8 each, whole characters only), folded between words."""
    value = one_line(value)
    if value.isascii():
        return value
    words: list[str] = []
    chunk = ""
    size = 0
    for character in value:
        width = len(character.encode())
        if size + width > 45:
            words.append(chunk)
            chunk, size = "", 0
        chunk += character
        size += width
    words.append(chunk)
    encoded = (base64.b64encode(word.encode()).decode("ascii") for word in words)
    return "\r\n ".join(f"=?utf-8?b?{word}?=" for word in encoded)


def render(notice: Notice, sender: Sender) -> Email:
    """The email for one outbox row, ready to send."""
    language = language_of(notice.locale)
    payload = notice.payload
    incident = payload["incident"]
    labels = FIELDS[language]
    rows = [
        {
            "label": labels.get(change["field"], change["field"]),
            "old": _value(language, change["field"], change["from"]),
            "new": _value(language, change["field"], change["to"]),
        }
        for change in payload["changes"]
    ]
    subject = subject_of(notice, language)
    link = incident_link(sender.public_url, incident["number"])
    context = {
        "subject": subject,
        "reason": notice.reason.value,
        "name": notice.to_name,
        "actor": payload["actor"],
        "number": incident["number"],
        "description": payload["description"],
        "rows": rows,
        "comment": payload["comment"],
        "references": payload["references"],
        "attachments": [
            {
                **file,
                "size_text": _size_text(int(file["size"])),
                "link": None
                if sender.file_link is None or notice.recipient_id is None
                else sender.file_link(int(file["id"]), notice.recipient_id),
            }
            for file in payload["attachments"]
        ],
        "link": link,
    }
    text = _environment.get_template(f"{language}/message.txt").render(context)
    html = _environment.get_template(f"{language}/message.html").render(context)

    mid = message_id(notice.id, sender.domain)
    thread = thread_id(incident["id"], sender.domain)
    headers = [
        ("Subject", _header(subject)),
        ("From", sender.from_header),
        ("To", formataddr((one_line(notice.to_name), notice.to_address), "utf-8")),
        ("Date", format_datetime(notice.created_at)),
        ("Message-ID", mid),
        ("In-Reply-To", thread),
        ("References", thread),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("Content-Language", language),
    ]
    return Email(message_id=mid, data=_compose(headers, text=text, html=html))


def _compose(headers: list[tuple[str, str]], *, text: str, html: str) -> bytes:
    """A multipart/alternative message with base64 UTF-8 parts. Written directly rather than
    through ``email.message``, which costs the sender more than the SMTP exchange does: the
    header values are ours (one line, ASCII or RFC 2047 encoded) and the bodies are base64,
    so no user text reaches the message unencoded."""
    boundary = f"=_gql-support_{uuid.uuid4().hex}"
    lines = [f"{name}: {value}" for name, value in headers]
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    for subtype, body in (("plain", text), ("html", html)):
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(body.encode()).decode("ascii"),
        ]
    lines += [f"--{boundary}--", ""]
    return "\n".join(lines).replace("\n", "\r\n").encode("ascii")
