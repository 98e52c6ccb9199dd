"""Writing the outbox: called by the incident service inside the change's transaction.

What the change said is taken from its history entries (field, old, new), with the comment,
references and attachment names the change added, and frozen into each row's payload, so the
email tells what was committed even if the incident changes again before it is sent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from gql_support.accounts.models import Role, User
from gql_support.attachments.models import Attachment
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentSupporter,
    IncidentWatcher,
)
from gql_support.notify.models import OutboxMessage
from gql_support.notify.recipients import ChangeKind, Involvement, recipients

#: Longest comment or description put in an email; the rest is behind the incident's link.
MAX_TEXT_IN_EMAIL = 4_000

_K = IncidentEventKind
#: Events that are the change's text rather than a field going from one value to another.
_NOT_FIELDS = frozenset({_K.REPORTED, _K.COMMENTED, _K.REFERENCE_ADDED})


def clip(text: str, limit: int = MAX_TEXT_IN_EMAIL) -> dict[str, Any]:
    """The text as an email shows it: at most ``limit`` characters, saying if it was cut."""
    return {"text": text[:limit], "truncated": len(text) > limit}


def payload_of(
    incident: Incident,
    actor: User,
    history: Sequence[IncidentEvent],
    changes: IncidentChanges,
    kind: ChangeKind,
    at: datetime,
    attachments: Sequence[Attachment] = (),
) -> dict[str, Any]:
    """What every recipient's email about this change says, as JSON."""
    return {
        "kind": kind.value,
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "summary": incident.description.split("\n", 1)[0][:200],
            "status": str(incident.status),
            "priority": str(incident.priority),
            "type": str(incident.type),
        },
        "description": clip(incident.description) if kind is ChangeKind.REPORT else None,
        "actor": actor.name,
        "at": at.isoformat(),
        "changes": [
            {"field": e.field, "from": e.from_value, "to": e.to_value}
            for e in history
            if e.kind not in _NOT_FIELDS and e.field is not None
        ],
        "comment": None if changes.comment is None else clip(changes.comment),
        "references": [{"label": r.label, "url": r.url} for r in changes.references],
        # Files attached by the change.
        "attachments": [{"id": a.id, "name": a.filename, "size": a.size} for a in attachments],
    }


async def queue_notices(
    *,
    incident: Incident,
    actor: User,
    history: Sequence[IncidentEvent],
    changes: IncidentChanges,
    assignee_before: int | None,
    supporters_before: Collection[int],
    attachments: Sequence[Attachment] = (),
) -> int:
    """Writes the outbox rows for a change, in the caller's transaction; returns how many."""
    kinds = {event.kind for event in history}
    if not kinds - {_K.WATCHERS_CHANGED}:
        # Watching or unwatching alone tells nobody anything.
        return 0
    kind = ChangeKind.REPORT if _K.REPORTED in kinds else ChangeKind.CHANGE
    supporter_ids = await _linked(IncidentSupporter, incident)
    watcher_ids = await _linked(IncidentWatcher, incident)
    manager_ids: list[int] = []
    if kind is ChangeKind.REPORT:
        managers = User.filter(role=Role.MANAGER, is_active=True).values_list("id", flat=True)
        manager_ids = [int(i) for i in await managers]  # type: ignore[call-overload]
    involvement = Involvement(
        kind=kind,
        actor_id=actor.id,
        reporter_id=incident.reporter_id,
        assignee_id=incident.assigned_to_id,
        supporter_ids=supporter_ids,
        watcher_ids=watcher_ids,
        manager_ids=manager_ids,
        assignee_before=assignee_before,
        supporters_before=supporters_before,
    )
    candidates = {
        *involvement.supporter_ids,
        *involvement.watcher_ids,
        *manager_ids,
        *supporters_before,
        incident.reporter_id,
        *(i for i in (incident.assigned_to_id, assignee_before) if i is not None),
    }
    people = {u.id: u for u in await User.filter(id__in=list(candidates), is_active=True)}
    chosen = recipients(involvement, people.keys())
    if not chosen:
        return 0
    at = history[0].at
    payload = payload_of(incident, actor, history, changes, kind, at, attachments)
    await OutboxMessage.bulk_create(
        [
            OutboxMessage(
                incident_id=incident.id,
                recipient_id=user_id,
                reason=reason,
                to_address=people[user_id].email,
                to_name=people[user_id].name,
                locale=people[user_id].locale,
                payload=payload,
                next_attempt_at=at,
            )
            for user_id, reason in chosen.items()
        ]
    )
    return len(chosen)


async def _linked(
    model: type[IncidentSupporter] | type[IncidentWatcher], incident: Incident
) -> list[int]:
    ids = await model.filter(incident_id=incident.id).values_list("user_id", flat=True)
    return [int(user_id) for user_id in ids]  # type: ignore[call-overload]
