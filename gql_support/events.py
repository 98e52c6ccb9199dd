"""Domain events: what a committed change tells the side effects, in plain values.

The incident service emits them inside the change's transaction; the outbox
(``gql_support.notify.queue``) turns them into email. They name people by id and values as the
history reads them, so the side effects need nothing of the domain's models or rules, and the
domain depends on them, not the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, kw_only=True)
class FieldChanged:
    """One field, from and to, as its history entry reads (names, not ids)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, kw_only=True)
class ReferenceAdded:
    label: str
    url: str | None


@dataclass(frozen=True, kw_only=True)
class FileAttached:
    id: int
    name: str
    size: int


@dataclass(frozen=True, kw_only=True)
class IncidentChanged:
    """One committed change to an incident: a report, or any mix of field changes, a comment,
    references and files. People are user ids, after the change unless named ``_before``."""

    reported: bool
    incident_id: int
    number: int
    description: str
    status: str
    priority: str
    type: str
    actor_id: int
    actor_name: str
    at: datetime
    #: The fields that changed, in history order (on a report: the people it names).
    fields: tuple[FieldChanged, ...] = ()
    comment: str | None = None
    references: tuple[ReferenceAdded, ...] = ()
    attachments: tuple[FileAttached, ...] = ()
    reporter_id: int
    assignee_id: int | None
    assignee_before: int | None
    supporter_ids: tuple[int, ...] = ()
    supporters_before: tuple[int, ...] = ()
    watcher_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class IncidentDue:
    """An incident with a due date, as a reminder or a digest tells it."""

    incident_id: int
    number: int
    description: str
    status: str
    priority: str
    due_date: datetime | None
    reporter_id: int
    assignee_id: int | None
    assignee_name: str | None
    supporter_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DigestDue:
    """A manager's daily digest: the first overdue and unassigned incidents, and how many of
    each there are in all."""

    manager_id: int
    day: date
    overdue: tuple[IncidentDue, ...]
    overdue_count: int
    unassigned: tuple[IncidentDue, ...]
    unassigned_count: int
