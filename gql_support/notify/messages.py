"""Turning an outbox row into an email: text and HTML parts from the recipient's language's
templates, a subject naming the incident and what happened, and the headers that make it
thread, be recognised when resent, and be known as automatic.

User text never breaks the message: the HTML templates are autoescaped, and every header
value is folded onto one line before it is set.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

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
def templates(language: str) -> tuple[Template, Template]:
    """The text and HTML templates of a language."""
    return (
        _environment.get_template(f"{language}/message.txt"),
        _environment.get_template(f"{language}/message.html"),
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
def _greeting(language: str, name: str) -> tuple[str, str]:
    """The greeting of the text and HTML parts: the same people get most of the email."""
    text_template, html_template = templates(language)
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
    """What every recipient of one change reads alike, in one language, for one reason."""

    #: The payload this was rendered from, compared by identity: the worker decodes the
    #: payload of a change's rows once, so they share it.
    payload: dict[str, Any]
    headers: list[tuple[str, str]]
    text: dict[str, str]
    html: dict[str, str]


class Renderer:
    """Turns outbox rows into emails, one after the other.

    The rows of one change come one after the other, and their emails differ only in the
    greeting, the download links and a few headers: the rest is rendered once per language
    and reason and reused while the rows are about the same change, so that a Save/Send
    that notifies ten people does not render its table of changes ten times.
    """

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self._shared: dict[tuple[str, NoticeReason], _Shared] = {}

    def render(self, notice: Notice) -> Email:
        """The email for one outbox row, ready to send."""
        language = language_of(notice.locale)
        if notice.reason is NoticeReason.PASSWORD_RESET:
            return self._password_reset(notice, language)
        shared = self._shared.get((language, notice.reason))
        if shared is None or shared.payload is not notice.payload:
            shared = self._shared[(language, notice.reason)] = self._render_shared(notice, language)
        greeting_text, greeting_html = _greeting(language, notice.to_name)
        own_text, own_html = {"greeting": greeting_text}, {"greeting": greeting_html}
        if notice.payload["attachments"]:
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
                "size_text": _size_text(int(file["size"])),
                "link": None
                if link is None or notice.recipient_id is None
                else link(int(file["id"]), notice.recipient_id),
            }
            for file in notice.payload["attachments"]
        ]

    def _render_shared(self, notice: Notice, language: str) -> _Shared:
        payload = notice.payload
        incident = payload["incident"]
        labels = FIELDS[language]
        subject = subject_of(notice, language)
        context = {
            "subject": subject,
            "reason": notice.reason.value,
            "actor": payload["actor"],
            "number": incident["number"],
            "description": payload["description"],
            "rows": [
                {
                    "label": labels.get(change["field"], change["field"]),
                    "old": _value(language, change["field"], change["from"]),
                    "new": _value(language, change["field"], change["to"]),
                }
                for change in payload["changes"]
            ],
            "comment": payload["comment"],
            "references": payload["references"],
            "link": incident_link(self.sender.public_url, incident["number"]),
            # Without files, the files block reads the same for all (nothing).
            "attachments": [],
        }
        shared_blocks = [name for name in _BLOCKS if name != "greeting"]
        text_template, html_template = templates(language)
        thread = thread_id(incident["id"], self.sender.domain)
        return _Shared(
            payload=payload,
            headers=[
                ("Subject", _header(subject)),
                ("From", self.sender.from_header),
                ("In-Reply-To", thread),
                ("References", thread),
                ("Auto-Submitted", "auto-generated"),
                ("X-Auto-Response-Suppress", "All"),
                ("Content-Language", language),
            ],
            text=_blocks(text_template, context, shared_blocks),
            html=_blocks(html_template, context, shared_blocks),
        )


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
