"""Writing the outbox: called by the incident service inside the change's transaction.

It reads a domain event (``gql_support.events.IncidentChanged``: the fields that changed as
their history entries read, the comment, references and files the change added, and who stood
where), never the incident's models, and freezes it into each row's payload, so the email
tells what was committed even if the incident changes again before it is sent. Reminders
(``IncidentDue``, a batch of incidents at a time) and digests (``DigestDue``) come the same
way, from ``gql_support.incidents.reminders``, in the transaction that marks them sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gql_support.accounts.models import Role, User
from gql_support.events import DigestDue, IncidentChanged, IncidentDue
from gql_support.notify.models import NoticeReason, OutboxMessage
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
        "changes": [{"field": f.field, "from": f.before, "to": f.after} for f in event.fields],
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
    manager_ids = await _active_manager_ids() if kind is ChangeKind.REPORT else []
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
    if chosen:
        await _write(event.incident_id, chosen, people, payload_of(event), event.at)
    return len(chosen)


async def _active_manager_ids() -> list[int]:
    managers = User.filter(role=Role.MANAGER, is_active=True).values_list("id", flat=True)
    return [int(i) for i in await managers]  # type: ignore[call-overload]


async def _write(
    incident_id: int | None,
    chosen: Mapping[int, NoticeReason],
    people: Mapping[int, User],
    payload: dict[str, Any],
    at: datetime,
) -> None:
    await OutboxMessage.bulk_create(_rows(incident_id, chosen, people, payload, at))


def _rows(
    incident_id: int | None,
    chosen: Mapping[int, NoticeReason],
    people: Mapping[int, User],
    payload: dict[str, Any],
    at: datetime,
) -> list[OutboxMessage]:
    """One outbox row per chosen recipient, with their address, name, locale and time zone as
    they are now."""
    return [
        OutboxMessage(
            incident_id=incident_id,
            recipient_id=user_id,
            reason=reason,
            to_address=people[user_id].email,
            to_name=people[user_id].name,
            locale=people[user_id].locale,
            time_zone=people[user_id].time_zone,
            payload=payload,
            next_attempt_at=at,
        )
        for user_id, reason in chosen.items()
    ]


def entry_of(incident: IncidentDue) -> dict[str, Any]:
    """An incident as a reminder or a digest shows it, as JSON."""
    return {
        "id": incident.incident_id,
        "number": incident.number,
        "summary": incident.description.split("\n", 1)[0][:200],
        "status": incident.status,
        "priority": incident.priority,
        "assignee": incident.assignee_name,
        "due_date": None if incident.due_date is None else incident.due_date.isoformat(),
    }


async def queue_reminders(
    incidents: Sequence[IncidentDue], kind: ChangeKind, *, at: datetime
) -> int:
    """Writes the rows of due-soon or overdue reminders about several incidents, in the
    caller's transaction (the one that marks them sent), in one insert; returns how many."""
    manager_ids = await _active_manager_ids() if kind is ChangeKind.OVERDUE else []
    candidates = {*manager_ids}
    for incident in incidents:
        candidates.update(incident.supporter_ids)
        if incident.assignee_id is not None:
            candidates.add(incident.assignee_id)
    people = {u.id: u for u in await User.filter(id__in=list(candidates), is_active=True)}
    rows = []
    for incident in incidents:
        involvement = Involvement(
            kind=kind,
            actor_id=None,
            reporter_id=incident.reporter_id,
            assignee_id=incident.assignee_id,
            supporter_ids=incident.supporter_ids,
            watcher_ids=(),
            manager_ids=manager_ids,
        )
        payload = {"incident": entry_of(incident)}
        chosen = recipients(involvement, people.keys())
        rows += _rows(incident.incident_id, chosen, people, payload, at)
    if rows:
        await OutboxMessage.bulk_create(rows)
    return len(rows)


async def queue_digest(digest: DigestDue, *, at: datetime) -> int:
    """Writes a manager's digest, in the caller's transaction (the one that marks it sent);
    returns 1, or 0 if the manager is no longer an active one."""
    manager = await User.get_or_none(id=digest.manager_id, role=Role.MANAGER, is_active=True)
    if manager is None:
        return 0
    payload = {
        "day": digest.day.isoformat(),
        "overdue": [entry_of(i) for i in digest.overdue],
        "overdue_count": digest.overdue_count,
        "unassigned": [entry_of(i) for i in digest.unassigned],
        "unassigned_count": digest.unassigned_count,
    }
    await _write(None, {manager.id: NoticeReason.DIGEST}, {manager.id: manager}, payload, at)
    return 1
