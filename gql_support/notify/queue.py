"""Writing the outbox: called by the incident service inside the change's transaction.

It reads a domain event (``gql_support.events.IncidentChanged``: the fields that changed as
their history entries read, the comment, references and files the change added, and who stood
where), never the incident's models, and freezes it into each row's payload, so the email
tells what was committed even if the incident changes again before it is sent.
"""

from __future__ import annotations

from typing import Any

from gql_support.accounts.models import Role, User
from gql_support.events import IncidentChanged
from gql_support.notify.models import OutboxMessage
from gql_support.notify.recipients import ChangeKind, Involvement, recipients

#: Longest comment or description put in an email; the rest is behind the incident's link.
MAX_TEXT_IN_EMAIL = 4_000


def clip(text: str, limit: int = MAX_TEXT_IN_EMAIL) -> dict[str, Any]:
    """The text as an email shows it: at most ``limit`` characters, saying if it was cut."""
    return {"text": text[:limit], "truncated": len(text) > limit}


def payload_of(event: IncidentChanged) -> dict[str, Any]:
    """What every recipient's email about this change says, as JSON."""
    return {
        "kind": _kind(event).value,
        "incident": {
            "id": event.incident_id,
            "number": event.number,
            "summary": event.description.split("\n", 1)[0][:200],
            "status": event.status,
            "priority": event.priority,
            "type": event.type,
        },
        "description": clip(event.description) if event.reported else None,
        "actor": event.actor_name,
        "at": event.at.isoformat(),
        "changes": [
            *({"field": f.field, "from": f.before, "to": f.after} for f in event.fields),
            *({"field": "attachments", "from": None, "to": a.name} for a in event.attachments),
        ],
        "comment": None if event.comment is None else clip(event.comment),
        "references": [{"label": r.label, "url": r.url} for r in event.references],
        # Files attached by the change.
        "attachments": [{"id": a.id, "name": a.name, "size": a.size} for a in event.attachments],
    }


def _kind(event: IncidentChanged) -> ChangeKind:
    return ChangeKind.REPORT if event.reported else ChangeKind.CHANGE


def _tells_anything(event: IncidentChanged) -> bool:
    """Watching or unwatching alone tells nobody anything."""
    return (
        event.reported
        or event.comment is not None
        or bool(event.references or event.attachments)
        or any(f.field != "watchers" for f in event.fields)
    )


async def queue_notices(event: IncidentChanged) -> int:
    """Writes the outbox rows for a change, in the caller's transaction; returns how many."""
    if not _tells_anything(event):
        return 0
    kind = _kind(event)
    manager_ids: list[int] = []
    if kind is ChangeKind.REPORT:
        managers = User.filter(role=Role.MANAGER, is_active=True).values_list("id", flat=True)
        manager_ids = [int(i) for i in await managers]  # type: ignore[call-overload]
    involvement = Involvement(
        kind=kind,
        actor_id=event.actor_id,
        reporter_id=event.reporter_id,
        assignee_id=event.assignee_id,
        supporter_ids=event.supporter_ids,
        watcher_ids=event.watcher_ids,
        manager_ids=manager_ids,
        assignee_before=event.assignee_before,
        supporters_before=event.supporters_before,
    )
    candidates = {
        *event.supporter_ids,
        *event.watcher_ids,
        *manager_ids,
        *event.supporters_before,
        event.reporter_id,
        *(i for i in (event.assignee_id, event.assignee_before) if i is not None),
    }
    people = {u.id: u for u in await User.filter(id__in=list(candidates), is_active=True)}
    chosen = recipients(involvement, people.keys())
    if not chosen:
        return 0
    payload = payload_of(event)
    await OutboxMessage.bulk_create(
        [
            OutboxMessage(
                incident_id=event.incident_id,
                recipient_id=user_id,
                reason=reason,
                to_address=people[user_id].email,
                to_name=people[user_id].name,
                locale=people[user_id].locale,
                payload=payload,
                next_attempt_at=event.at,
            )
            for user_id, reason in chosen.items()
        ]
    )
    return len(chosen)
