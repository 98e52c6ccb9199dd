"""What a caller asks to change on an incident, validated before anything touches the database."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from gql_support.attachments.service import IncomingFile
from gql_support.errors import InvalidInput, TooLarge
from gql_support.incidents.models import Impact, IncidentStatus, IncidentType, Urgency
from gql_support.text import check_characters

MAX_DESCRIPTION = 10_000
MAX_TASK = 500
#: Comments are limited in UTF-8 bytes (1 MiB), the rest in characters.
MAX_COMMENT = 1_048_576
MAX_LABEL = 500
MAX_URL = 2_048
MAX_REFERENCES = 20
MAX_SUPPORTERS = 20
MAX_WATCHERS = 100
#: Every date the API accepts lies in this range. Far enough apart that no real due date is
#: refused; far enough inside Python's years 1 to 9999 that any UTC offset, any later
#: arithmetic, and the dashboard's "no due date" sort value (9999-12-31) stay clear of the
#: edge, where SQLite stores a value that can no longer be read back.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)


class Unset(enum.Enum):
    """Marks a field the caller left out, as opposed to one set to null."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


@dataclass(frozen=True, kw_only=True)
class NewReference:
    label: str
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentChanges:
    """Every change the incident window can make at once; UNSET fields are left as they are."""

    assigned_to_id: int | Unset | None = UNSET
    supported_by_ids: Sequence[int] | Unset = UNSET
    watcher_ids: Sequence[int] | Unset = UNSET
    status: IncidentStatus | Unset = UNSET
    type: IncidentType | Unset = UNSET
    impact: Impact | Unset = UNSET
    urgency: Urgency | Unset = UNSET
    due_date: datetime | Unset | None = UNSET
    task: str | Unset | None = UNSET
    comment: str | None = None
    references: Sequence[NewReference] = ()
    #: Files to attach: to the comment when there is one (except on a report), else the incident.
    attachments: Sequence[IncomingFile] = ()


def clean_text(
    value: str,
    *,
    field: str,
    limit: int,
    required: bool = True,
    multiline: bool = True,
    limit_in_bytes: bool = False,
) -> str:
    """Trims a text input and checks it is present (if required) and within its limit
    (characters, or UTF-8 bytes)."""
    value = check_characters(value, field=["input", field]).strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be blank", field=["input", field])
    size = len(value.encode()) if limit_in_bytes else len(value)
    if size > limit:
        unit = "bytes" if limit_in_bytes else "characters"
        raise TooLarge(f"{field} is longer than {limit} {unit}", field=["input", field])
    if not multiline and any(c in value for c in "\r\n"):
        raise InvalidInput(f"{field} contains forbidden characters", field=["input", field])
    return value


def clean_optional_text(value: str | None, *, field: str, limit: int) -> str | None:
    """Like ``clean_text``, but blank becomes None."""
    if value is None:
        return None
    return clean_text(value, field=field, limit=limit, required=False, multiline=False) or None


def clean_ids(ids: Sequence[int], *, field: str, limit: int) -> list[int]:
    """De-duplicates a list of ids, keeping order, and checks its length."""
    unique = list(dict.fromkeys(ids))
    if len(unique) > limit:
        raise TooLarge(f"{field} may name at most {limit} users", field=["input", field])
    return unique


def clean_references(references: Sequence[NewReference]) -> list[NewReference]:
    """Checks reference labels and URLs; only http(s) links are accepted."""
    if len(references) > MAX_REFERENCES:
        raise TooLarge(
            f"at most {MAX_REFERENCES} references at once", field=["input", "references"]
        )
    cleaned = []
    for reference in references:
        label = clean_text(reference.label, field="references", limit=MAX_LABEL, multiline=False)
        url = clean_optional_text(reference.url, field="references", limit=MAX_URL)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise InvalidInput(
                    f"reference URL {url!r} must be an http or https link",
                    field=["input", "references"],
                )
        cleaned.append(NewReference(label=label, url=url))
    return cleaned


def check_instant(value: datetime, *, field: list[str]) -> datetime:
    """Refuses a date without a UTC offset (it would mean a different instant for each
    client) or outside ``EARLIEST`` to ``LATEST``."""
    name = field[-1]
    if value.utcoffset() is None:
        raise InvalidInput(f"{name} needs a UTC offset, e.g. 2030-01-31T17:00:00Z", field=field)
    # Compared, not converted: converting 9999-12-31T23:59-14:00 to UTC overflows.
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(
            f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}", field=field
        )
    return value
