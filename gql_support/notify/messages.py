"""Turning an outbox row into an email: text and HTML parts from the recipient's language's
templates, a subject naming the incident and what happened, and the headers that make it
thread, be recognised when resent, and be known as automatic.

Each kind of email has its template, ``templates/<language>/<kind>.txt`` and ``.html``: a
change to an incident (``message``), a due-date reminder (``reminder``), a manager's daily
digest (``digest``). Dates, times and sizes read as the recipient reads them (``formats``).

User text never breaks the message: the HTML templates are autoescaped, and every header
value is folded onto one line before it is set.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from gql_support.notify import formats
from gql_support.notify.catalog import (
    ENUM_FIELDS,
    FIELDS,
    INSTANT_FIELDS,
    SUBJECTS,
    VALUES,
    french_of,
    language_of,
)
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
    #: A password reset's salt -> the link of its email (signed with the secret key).
    reset_link: Callable[[str], str] | None = None

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
    #: The IANA name of the recipient's time zone, in which moments are shown.
    time_zone: str = formats.FALLBACK_TIME_ZONE

    @property
    def template(self) -> str:
        """The name of the templates this email is made from."""
        return TEMPLATE_OF.get(self.reason, "message")


#: The templates of each kind of email that is not about one change.
TEMPLATE_OF = {
    NoticeReason.DUE_SOON: "reminder",
    NoticeReason.OVERDUE: "reminder",
    NoticeReason.DIGEST: "digest",
}


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


def _value(notice: Notice, language: str, field: str, value: str | None) -> str | None:
    """A field's value as the recipient reads it: enum names translated, moments in their
    locale and time zone, the rest (names, text) as it is."""
    if value is None or value == "":
        return None
    if field in ENUM_FIELDS:
        return VALUES[language].get(value, value)
    if field in INSTANT_FIELDS:
        return _moment(notice, value)
    return value


def _moment(notice: Notice, value: str) -> str:
    return formats.moment(value, locale=notice.locale, time_zone=notice.time_zone)


def _summary(text: str) -> str:
    summary = one_line(text)
    return summary[: MAX_SUMMARY - 1] + "…" if len(summary) > MAX_SUMMARY else summary


def subject_of(notice: Notice, language: str) -> str:
    """Names the incident and what happened, in the recipient's language."""
    payload = notice.payload
    subjects = SUBJECTS[language]
    if notice.reason is NoticeReason.DIGEST:
        return one_line(
            subjects[notice.reason].format(
                day=formats.day(date.fromisoformat(payload["day"]), locale=notice.locale),
                overdue=formats.count(payload["overdue_count"], locale=notice.locale),
                unassigned=formats.count(payload["unassigned_count"], locale=notice.locale),
            )
        )
    incident = payload["incident"]
    summary = _summary(incident["summary"])
    if notice.reason in (NoticeReason.DUE_SOON, NoticeReason.OVERDUE):
        text = subjects[notice.reason].format(
            number=incident["number"], summary=summary, due=_moment(notice, incident["due_date"])
        )
        return one_line(text)
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
        of_actor=french_of(payload["actor"]),
        status=status and _value(notice, language, "status", status["to"]),
    )
    return one_line(text)


def _header(value: str) -> str:
    """A header value on one line: as is when ASCII, else RFC 2047 encoded words (base64, at
    most 39 bytes of UTF-8 each, whole characters only, so that even the first line, behind
    "Subject: ", keeps to 76 characters), folded between words."""
    value = one_line(value)
    if value.isascii():
        return value
    words: list[str] = []
    chunk = ""
    size = 0
    for character in value:
        width = len(character.encode())
        if size + width > 39:
            words.append(chunk)
            chunk, size = "", 0
        chunk += character
        size += width
    words.append(chunk)
    encoded = (base64.b64encode(word.encode()).decode("ascii") for word in words)
    return "\r\n ".join(f"=?utf-8?b?{word}?=" for word in encoded)


#: The blocks every template is made of, in order. All but two read the same for every
#: recipient of a change (in one language, for one reason) and are rendered once for them
#: all; ``greeting`` sees only the recipient's name, and ``files`` only the attached files,
#: with download links signed for the recipient.
_BLOCKS = ("head", "greeting", "body", "files", "closing")


@cache
def templates(language: str, kind: str = "message") -> tuple[Template, Template]:
    """The text and HTML templates of a kind of email in a language."""
    return (
        _environment.get_template(f"{language}/{kind}.txt"),
        _environment.get_template(f"{language}/{kind}.html"),
    )


def _blocks(template: Template, context: dict[str, Any], names: Iterable[str]) -> dict[str, str]:
    """The named blocks of a template, rendered. They see the context given and nothing else,
    not Jinja's globals (``range``, ``dict``…): the templates use none, and copying them in
    cost as much as rendering the blocks."""
    frame = template.new_context(context, shared=True)
    return {
        name: "".join(template.blocks[name](frame)) for name in names if name in template.blocks
    }


@lru_cache(maxsize=4096)
def _greeting(language: str, kind: str, name: str) -> tuple[str, str]:
    """The greeting of the text and HTML parts: the same people get most of the email."""
    text_template, html_template = templates(language, kind)
    context = {"name": name}
    return (
        _blocks(text_template, context, ["greeting"])["greeting"],
        _blocks(html_template, context, ["greeting"])["greeting"],
    )


@lru_cache(maxsize=4096)
def _to(name: str, address: str) -> str:
    return formataddr((one_line(name), address), "utf-8")


@lru_cache(maxsize=64)
def _date(timestamp: int) -> str:
    """The Date header of a moment, to the second: the rows of one change share it."""
    return format_datetime(datetime.fromtimestamp(timestamp, UTC))


def _join(shared: dict[str, str], own: dict[str, str]) -> str:
    return "".join(own[name] if name in own else shared.get(name, "") for name in _BLOCKS)


@dataclass(frozen=True, kw_only=True)
class _Shared:
    """What every recipient of one change reads alike, in one locale and time zone, for one
    reason."""

    #: The payload this was rendered from, compared by identity: the worker decodes the
    #: payload of a change's rows once, so they share it.
    payload: dict[str, Any]
    headers: list[tuple[str, str]]
    text: dict[str, str]
    html: dict[str, str]


class Renderer:
    """Turns outbox rows into emails, one after the other.

    The rows of one change come one after the other, and their emails differ only in the
    greeting, the download links and a few headers: the rest is rendered once per locale,
    time zone and reason and reused while the rows are about the same change, so that a
    Save/Send that notifies ten people does not render its table of changes ten times.
    """

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._shared: dict[tuple[str, str, NoticeReason], _Shared] = {}

    def render(self, notice: Notice) -> Email:
        """The email for one outbox row, ready to send."""
        language = language_of(notice.locale)
        if notice.reason is NoticeReason.PASSWORD_RESET:
            return self._password_reset(notice, language)
        key = (notice.locale, notice.time_zone, notice.reason)
        shared = self._shared.get(key)
        if shared is None or shared.payload is not notice.payload:
            shared = self._shared[key] = self._render_shared(notice, language)
        greeting_text, greeting_html = _greeting(language, notice.template, notice.to_name)
        own_text, own_html = {"greeting": greeting_text}, {"greeting": greeting_html}
        if notice.payload.get("attachments"):
            files = {"attachments": self._files(notice)}
            text_template, html_template = templates(language)
            own_text |= _blocks(text_template, files, ["files"])
            own_html |= _blocks(html_template, files, ["files"])
        mid = message_id(notice.id, self.sender.domain)
        headers = [
            *shared.headers,
            ("To", _to(notice.to_name, notice.to_address)),
            ("Date", _date(int(notice.created_at.timestamp()))),
            ("Message-ID", mid),
        ]
        text, html = _join(shared.text, own_text), _join(shared.html, own_html)
        return Email(message_id=mid, data=_compose(headers, text=text, html=html))

    def _password_reset(self, notice: Notice, language: str) -> Email:
        """A password reset email: about no incident, so not threaded with any."""
        assert self.sender.reset_link is not None, "the worker's sender signs reset links"
        subject = SUBJECTS[language][NoticeReason.PASSWORD_RESET]
        context = {
            "subject": subject,
            "name": notice.to_name,
            "email": notice.to_address,
            "minutes": notice.payload["minutes"],
            "link": self.sender.reset_link(notice.payload["salt"]),
        }
        text, html = (
            _environment.get_template(f"{language}/password_reset.{kind}").render(context)
            for kind in ("txt", "html")
        )
        mid = message_id(notice.id, self.sender.domain)
        headers = [
            ("Subject", _header(subject)),
            ("From", self.sender.from_header),
            ("To", _to(notice.to_name, notice.to_address)),
            ("Date", _date(int(notice.created_at.timestamp()))),
            ("Message-ID", mid),
            ("Auto-Submitted", "auto-generated"),
            ("X-Auto-Response-Suppress", "All"),
            ("Content-Language", language),
        ]
        return Email(message_id=mid, data=_compose(headers, text=text, html=html))

    def _files(self, notice: Notice) -> list[dict[str, Any]]:
        link = self.sender.file_link
        return [
            {
                **file,
                "size_text": formats.size(int(file["size"]), locale=notice.locale),
                "link": None
                if link is None or notice.recipient_id is None
                else link(int(file["id"]), notice.recipient_id),
            }
            for file in notice.payload["attachments"]
        ]

    def _render_shared(self, notice: Notice, language: str) -> _Shared:
        subject = subject_of(notice, language)
        context = {
            "subject": subject,
            "reason": notice.reason.value,
            # Without files, the files block reads the same for all (nothing).
            "attachments": [],
            **self._context(notice, language),
        }
        shared_blocks = [name for name in _BLOCKS if name != "greeting"]
        text_template, html_template = templates(language, notice.template)
        headers = [("Subject", _header(subject)), ("From", self.sender.from_header)]
        incident = notice.payload.get("incident")
        if incident is not None:
            thread = thread_id(incident["id"], self.sender.domain)
            headers += [("In-Reply-To", thread), ("References", thread)]
        headers += [
            ("Auto-Submitted", "auto-generated"),
            ("X-Auto-Response-Suppress", "All"),
            ("Content-Language", language),
        ]
        return _Shared(
            payload=notice.payload,
            headers=headers,
            text=_blocks(text_template, context, shared_blocks),
            html=_blocks(html_template, context, shared_blocks),
        )

    def _context(self, notice: Notice, language: str) -> dict[str, Any]:
        """What the templates of the notice's kind show, in the recipient's words."""
        if notice.template == "digest":
            return self._digest_context(notice, language)
        payload = notice.payload
        incident = payload["incident"]
        context = {
            "number": incident["number"],
            "link": incident_link(self.sender.public_url, incident["number"]),
        }
        if notice.template == "reminder":
            return context | {
                "summary": incident["summary"],
                "due": _moment(notice, incident["due_date"]),
                "status": _value(notice, language, "status", incident["status"]),
                "rows": self._rows(notice, language, _fields_of(incident)),
            }
        return context | {
            "actor": payload["actor"],
            "of_actor": french_of(payload["actor"]),
            "description": payload["description"],
            "rows": self._rows(
                notice, language, [(c["field"], c["from"], c["to"]) for c in payload["changes"]]
            ),
            "comment": payload["comment"],
            "references": payload["references"],
        }

    def _digest_context(self, notice: Notice, language: str) -> dict[str, Any]:
        payload = notice.payload

        def entries(name: str) -> list[dict[str, Any]]:
            return [
                {
                    "number": entry["number"],
                    "summary": entry["summary"],
                    "link": incident_link(self.sender.public_url, entry["number"]),
                    "rows": self._rows(notice, language, _fields_of(entry)),
                }
                for entry in payload[name]
            ]

        return {
            "day": formats.day(date.fromisoformat(payload["day"]), locale=notice.locale),
            "sections": [
                {
                    "name": name,
                    "count": formats.count(payload[f"{name}_count"], locale=notice.locale),
                    "entries": entries(name),
                    "more": _more(payload[f"{name}_count"] - len(payload[name]), notice),
                }
                for name in ("overdue", "unassigned")
            ],
            "link": self.sender.public_url,
        }

    @staticmethod
    def _rows(
        notice: Notice, language: str, fields: Iterable[tuple[str, str | None, str | None]]
    ) -> list[dict[str, str | None]]:
        """Lines of "field: old → new" (or "field: value" with no old), in the reader's words."""
        labels = FIELDS[language]
        return [
            {
                "label": labels.get(field, field),
                "old": _value(notice, language, field, old),
                "new": _value(notice, language, field, new),
            }
            for field, old, new in fields
        ]


def _more(count: int, notice: Notice) -> str | None:
    """How many more incidents a digest's list has than it shows, if any."""
    return formats.count(count, locale=notice.locale) if count > 0 else None


def _fields_of(entry: dict[str, Any]) -> list[tuple[str, None, str | None]]:
    """The lines a reminder or a digest shows for an incident (``notify.queue.entry_of``)."""
    return [
        ("status", None, entry["status"]),
        ("priority", None, entry["priority"]),
        ("assignedTo", None, entry["assignee"]),
        ("dueDate", None, entry["due_date"]),
    ]


def _compose(headers: list[tuple[str, str]], *, text: str, html: str) -> bytes:
    """A multipart/alternative message with base64 UTF-8 parts. Written directly rather than
    through ``email.message``, which costs the sender more than the SMTP exchange does: the
    header values are ours (one line, ASCII or RFC 2047 encoded words folded with CRLF) and
    the bodies are base64, so no user text reaches the message unencoded, and the boundary
    cannot occur in them ("=_" is never base64)."""
    boundary = "=_gql-support_alternative"
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
            _base64(body),
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _base64(text: str) -> str:
    """The text's UTF-8 in base64 lines of 76 characters (RFC 2045), CRLF between them."""
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return "\r\n".join(encoded[start : start + 76] for start in range(0, len(encoded), 76))
