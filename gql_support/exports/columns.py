"""The columns of an export, one declaration each (header, kind of cell, width, value), and
the rows: the dashboard's list read in keyset batches, with the names and dates each batch
needs read in one query apiece.

Dates are in UTC (the headers say so): a spreadsheet cell holds no time zone. "Resolved" is
when a finished incident (RESOLVED, CLOSED or REJECTED) was last moved to a finished status, as
Jira's resolution date: empty while the incident is open, and a reopened one loses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gql_support.accounts.models import User
from gql_support.incidents import queries
from gql_support.incidents.filters import IncidentFilter
from gql_support.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
    IncidentSupporter,
)
from gql_support.incidents.queries import IncidentOrder

#: A cell's value: text, a whole number, a date and time (naive, in UTC), or empty.
Cell = str | int | datetime | None
Row = tuple[Cell, ...]


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATETIME = "datetime"


@dataclass(frozen=True, kw_only=True)
class Related:
    """What a batch of incidents refers to: people's names, and when each was resolved."""

    names: dict[int, str]
    supporters: dict[int, list[User]]
    resolved_at: dict[int, datetime]


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind
    #: Width in characters, for the XLSX sheet.
    width: int
    value: Callable[[Incident, Related], Cell]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _name(user_id: int | None, related: Related) -> str | None:
    return None if user_id is None else related.names.get(user_id)


#: The dashboard's columns, then the dates of the incident's life.
COLUMNS: tuple[Column, ...] = (
    Column("Request ID", Kind.NUMBER, 11, lambda i, r: i.number),
    Column("Description", Kind.TEXT, 60, lambda i, r: i.description),
    Column("Type", Kind.TEXT, 16, lambda i, r: str(i.type)),
    Column("Priority", Kind.TEXT, 10, lambda i, r: str(i.priority)),
    Column("Status", Kind.TEXT, 13, lambda i, r: str(i.status)),
    Column("Impact", Kind.TEXT, 8, lambda i, r: str(i.impact)),
    Column("Urgency", Kind.TEXT, 8, lambda i, r: str(i.urgency)),
    Column("Assigned To", Kind.TEXT, 22, lambda i, r: _name(i.assigned_to_id, r)),
    Column(
        "Supported By",
        Kind.TEXT,
        30,
        lambda i, r: ", ".join(u.name for u in r.supporters.get(i.id, [])) or None,
    ),
    Column("Reported By", Kind.TEXT, 22, lambda i, r: _name(i.reporter_id, r)),
    Column("Task", Kind.TEXT, 24, lambda i, r: i.task),
    Column("Due Date (UTC)", Kind.DATETIME, 17, lambda i, r: _utc(i.due_date)),
    Column("Created (UTC)", Kind.DATETIME, 17, lambda i, r: _utc(i.created_at)),
    Column("Updated (UTC)", Kind.DATETIME, 17, lambda i, r: _utc(i.updated_at)),
    Column("Resolved (UTC)", Kind.DATETIME, 17, lambda i, r: _utc(r.resolved_at.get(i.id))),
)
HEADER: Row = tuple(c.header for c in COLUMNS)

#: The statuses that finish an incident (RESOLVED, CLOSED, REJECTED).
_FINISHED = sorted(str(s) for s in IncidentStatus if s not in OPEN_STATUSES)


async def _related(batch: Sequence[Incident]) -> Related:
    ids = [i.id for i in batch]
    supporters = await queries.users_by_incident(IncidentSupporter, ids)
    people = {i.reporter_id for i in batch} | {
        i.assigned_to_id for i in batch if i.assigned_to_id is not None
    }
    names = dict(await User.filter(id__in=sorted(people)).values_list("id", "name"))
    finished = [i.id for i in batch if i.status not in OPEN_STATUSES]
    resolved_at: dict[int, datetime] = {}
    if finished:
        # The last move to a finished status: a reopened incident counts from its last one.
        moves = await IncidentEvent.filter(
            incident_id__in=finished,
            kind=IncidentEventKind.STATUS_CHANGED,
            to_value__in=_FINISHED,
        ).values_list("incident_id", "at")
        for incident_id, at in moves:
            if incident_id not in resolved_at or at > resolved_at[incident_id]:
                resolved_at[incident_id] = at
    return Related(names=names, supporters=supporters, resolved_at=resolved_at)


async def row_batches(
    *,
    incident_filter: IncidentFilter | None,
    order: IncidentOrder,
    batch_size: int,
    now: datetime,
) -> AsyncIterator[list[Row]]:
    """The rows of the dashboard's list, in its order, ``batch_size`` at a time."""
    async for batch in queries.incidents_in_batches(
        incident_filter=incident_filter, order=order, batch_size=batch_size, now=now
    ):
        related = await _related(batch)
        yield [tuple(c.value(i, related) for c in COLUMNS) for i in batch]
