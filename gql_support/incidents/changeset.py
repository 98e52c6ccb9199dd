"""A change set: what one change did to an incident, field by field (old and new) and by
addition, and what it tells each of its readers: its history entries, and the domain event the
outbox turns into email. (The search text and the live change log are written by the service
from the same change set.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gql_support.accounts.models import User
from gql_support.attachments.models import Attachment
from gql_support.events import FieldChanged, FileAttached, IncidentChanged, ReferenceAdded
from gql_support.incidents.fields import RULES, Current, FieldChange, Occasion
from gql_support.incidents.models import (
    Comment,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    Reference,
)

_K = IncidentEventKind
_RULE = {rule.attribute: rule for rule in RULES}


@dataclass(frozen=True, kw_only=True)
class ChangeSet:
    """What one change did, field by field (old and new) and by addition; its history, search
    text, outbox rows and live update are all read from it."""

    occasion: Occasion
    incident: Incident
    actor: User
    at: datetime
    #: The incident's links before the change (its columns now hold the new values).
    before: Current
    fields: Sequence[FieldChange]
    #: Everyone the fields name, before or after, by id.
    people: Mapping[int, User]
    comment: Comment | None = None
    references: Sequence[Reference] = ()
    attachments: Sequence[Attachment] = ()

    @property
    def empty(self) -> bool:
        """Whether the change altered nothing (a form saved as it was)."""
        return self.occasion is Occasion.EDIT and not (
            self.fields or self.comment or self.references or self.attachments
        )

    def value(self, attribute: str, *, new: bool = True) -> Any:
        """A field's value after (or before) the change."""
        for change in self.fields:
            if change.rule.attribute == attribute:
                return change.new if new else change.old
        return _RULE[attribute].read(self.before)


def history_of(done: ChangeSet) -> list[IncidentEvent]:
    """One history entry per field changed and per addition, in ``RULES`` order."""
    entries: list[tuple[IncidentEventKind, str | None, str | None, str | None]] = []
    if done.occasion is Occasion.REPORT:
        entries.append((_K.REPORTED, None, None, None))
    for change in _recorded(done):
        rule = change.rule
        shown = (rule.show(change.old, done.people), rule.show(change.new, done.people))
        entries.append((rule.event, rule.name, *shown))
    if done.comment is not None:
        entries.append((_K.COMMENTED, None, None, done.comment.body[:200]))
    entries += [(_K.REFERENCE_ADDED, "references", None, r.label) for r in done.references]
    entries += [(_K.ATTACHMENT_ADDED, "attachments", None, a.filename) for a in done.attachments]
    return [
        IncidentEvent(
            incident_id=done.incident.id,
            kind=kind,
            actor_id=done.actor.id,
            at=done.at,
            field=field,
            from_value=old,
            to_value=new,
        )
        for kind, field, old, new in entries
    ]


def _recorded(done: ChangeSet) -> list[FieldChange]:
    """The field changes that get a history entry (a report's own values go with REPORTED)."""
    if done.occasion is Occasion.EDIT:
        return list(done.fields)
    return [change for change in done.fields if change.rule.history_on_report]


def notice_of(done: ChangeSet) -> IncidentChanged:
    """The change set as the outbox reads it."""
    incident = done.incident
    return IncidentChanged(
        reported=done.occasion is Occasion.REPORT,
        incident_id=incident.id,
        number=incident.number,
        description=incident.description,
        status=str(incident.status),
        priority=str(incident.priority),
        type=str(incident.type),
        actor_id=done.actor.id,
        actor_name=done.actor.name,
        at=done.at,
        fields=tuple(
            FieldChanged(
                field=change.rule.name,
                before=change.rule.show(change.old, done.people),
                after=change.rule.show(change.new, done.people),
            )
            for change in _recorded(done)
        ),
        comment=None if done.comment is None else done.comment.body,
        references=tuple(ReferenceAdded(label=r.label, url=r.url) for r in done.references),
        attachments=tuple(
            FileAttached(id=a.id, name=a.filename, size=a.size) for a in done.attachments
        ),
        reporter_id=incident.reporter_id,
        assignee_id=done.value("assigned_to_id"),
        assignee_before=done.value("assigned_to_id", new=False),
        supporter_ids=tuple(done.value("supported_by_ids")),
        supporters_before=tuple(done.value("supported_by_ids", new=False)),
        watcher_ids=tuple(done.value("watcher_ids")),
    )
