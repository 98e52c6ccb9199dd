"""The incident service: every change to an incident goes through here, one transaction each.

A change locks the incident row, checks ``expectedVersion``, checks the actor's right to each
field it touches, writes the new values, one history entry per changed field and a single
version bump, and commits. Nothing is written when any check fails.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from gql_support.accounts.models import SUPPORT_ROLES, User
from gql_support.attachments.models import Attachment
from gql_support.attachments.service import AttachmentStore, IncomingFile, ReceivedFile, receive
from gql_support.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, VersionConflict
from gql_support.incidents.changes import (
    MAX_COMMENT,
    MAX_DESCRIPTION,
    UNSET,
    IncidentChanges,
    NewReference,
    Unset,
    clean_changes,
    clean_text,
)
from gql_support.incidents.filters import filter_view
from gql_support.incidents.models import (
    Comment,
    Impact,
    Incident,
    IncidentCounter,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Reference,
    Urgency,
)
from gql_support.incidents.workflow import Party, allowed_targets, priority_of
from gql_support.live import changes as live
from gql_support.live.models import UpdateKind
from gql_support.notify.queue import queue_notices

#: Text kept for search per comment, and per incident: PostgreSQL's tsvector holds 1 MB at most.
MAX_INDEXED_COMMENT = 20_000
MAX_SEARCH_DOCUMENT = 200_000

_K = IncidentEventKind


def parties_of(user: User, incident: Incident, supporter_ids: Collection[int]) -> frozenset[Party]:
    """How the user stands to the incident: manager, assignee, supporter, reporter."""
    parties = set()
    if user.is_manager:
        parties.add(Party.MANAGER)
    if incident.assigned_to_id == user.id:
        parties.add(Party.ASSIGNEE)
    if user.id in supporter_ids:
        parties.add(Party.SUPPORTER)
    if incident.reporter_id == user.id:
        parties.add(Party.REPORTER)
    return frozenset(parties)


async def report_incident(
    *,
    actor: User,
    description: str,
    type: IncidentType | None = None,
    impact: Impact | None = None,
    urgency: Urgency | None = None,
    changes: IncidentChanges | None = None,
    store: AttachmentStore | None = None,
) -> Incident:
    """Raises a NEW incident with the next Request ID; only managers may assign it at once."""
    description = clean_text(description, field="description", limit=MAX_DESCRIPTION)
    changes = clean_changes(changes or IncidentChanges())
    if not actor.is_manager:
        if not isinstance(changes.assigned_to_id, Unset) and changes.assigned_to_id is not None:
            raise Forbidden(
                "only incident managers assign incidents", field=["input", "assignedToId"]
            )
        if not isinstance(changes.supported_by_ids, Unset) and changes.supported_by_ids:
            raise Forbidden(
                "only incident managers choose who supports an incident",
                field=["input", "supportedByIds"],
            )
    impact = impact or Impact.MEDIUM
    urgency = urgency or Urgency.MEDIUM
    now = datetime.now(UTC)
    async with receive(store, changes.attachments) as files, in_transaction():
        await IncidentCounter.filter(id=1).update(value=F("value") + 1)
        counter = await IncidentCounter.get(id=1)
        incident = await Incident.create(
            number=counter.value,
            description=description,
            type=type or IncidentType.DEFECT,
            impact=impact,
            urgency=urgency,
            priority=priority_of(impact, urgency),
            status=IncidentStatus.NEW,
            due_date=None if isinstance(changes.due_date, Unset) else changes.due_date,
            task=None if isinstance(changes.task, Unset) else changes.task,
            reporter_id=actor.id,
            search_document=description,
        )
        reported = IncidentEvent(
            incident_id=incident.id, kind=_K.REPORTED, actor_id=actor.id, at=now
        )
        rest = replace(changes, due_date=UNSET, task=UNSET)
        history = [reported]
        await _apply(incident, actor, rest, now=now, creating=True, history=history, files=files)
        change = await live.record(
            incident_id=incident.id,
            kind=UpdateKind.CREATED,
            event_ids=[e.id for e in history],
            before=None,
        )
    await live.announce(change)
    return incident


async def assign_incident(
    *,
    actor: User,
    incident_id: int,
    assigned_to_id: int | None,
    supported_by_ids: Sequence[int] | Unset = UNSET,
    expected_version: int | None = None,
) -> Incident:
    """Sets Assigned To (None unassigns) and, when given, the whole Supported By list."""
    changes = IncidentChanges(assigned_to_id=assigned_to_id, supported_by_ids=supported_by_ids)
    incident, _ = await edit_incident(
        actor=actor, incident_id=incident_id, changes=changes, expected_version=expected_version
    )
    return incident


async def update_status(
    *,
    actor: User,
    incident_id: int,
    status: IncidentStatus,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Moves the incident along the workflow, keeping the reason as a comment."""
    changes = IncidentChanges(status=status, comment=comment)
    incident, _ = await edit_incident(
        actor=actor,
        incident_id=incident_id,
        changes=changes,
        expected_version=expected_version,
        status_must_change=True,
    )
    return incident


async def add_comment(
    *,
    actor: User,
    incident_id: int,
    body: str,
    references: Sequence[NewReference] = (),
    attachments: Sequence[IncomingFile] = (),
    store: AttachmentStore | None = None,
) -> tuple[Comment, Incident]:
    """Adds a comment, with references and attached files, to an incident."""
    body = clean_text(body, field="body", limit=MAX_COMMENT, limit_in_bytes=True)
    incident, comment = await edit_incident(
        actor=actor,
        incident_id=incident_id,
        changes=IncidentChanges(comment=body, references=references, attachments=attachments),
        store=store,
    )
    assert comment is not None
    return comment, incident


async def watch_incident(*, actor: User, incident_id: int, watching: bool) -> Incident:
    """Puts the actor on the incident's watchlist, or takes them off it."""
    incident, _ = await edit_incident(
        actor=actor, incident_id=incident_id, changes=IncidentChanges(), watching=watching
    )
    return incident


async def edit_incident(
    *,
    actor: User,
    incident_id: int,
    changes: IncidentChanges,
    expected_version: int | None = None,
    watching: bool | None = None,
    status_must_change: bool = False,
    store: AttachmentStore | None = None,
) -> tuple[Incident, Comment | None]:
    """Applies any mix of changes at once (Save/Send): one version bump, one history batch."""
    changes = clean_changes(changes)
    now = datetime.now(UTC)
    async with receive(store, changes.attachments) as files, in_transaction():
        incident = await Incident.filter(id=incident_id).select_for_update().first()
        if incident is None:
            raise NotFound("no such incident", field=["input", "incidentId"])
        if expected_version is not None and expected_version != incident.version:
            raise VersionConflict(
                f"incident #{incident.number} is at version {incident.version}, "
                f"not {expected_version}: reload it and apply your change again",
                field=["input", "expectedVersion"],
            )
        if status_must_change and changes.status == incident.status:
            raise InvalidTransition(
                f"incident #{incident.number} is already {incident.status}",
                field=["input", "status"],
            )
        supporter_ids = await _linked_user_ids(IncidentSupporter, incident)
        watcher_ids = await _linked_user_ids(IncidentWatcher, incident)
        if watching is not None:
            others = [user_id for user_id in watcher_ids if user_id != actor.id]
            changes = replace(changes, watcher_ids=[*others, actor.id] if watching else others)
        before = filter_view(incident, supporter_ids, watcher_ids)
        history: list[IncidentEvent] = []
        comment = await _apply(
            incident,
            actor,
            changes,
            now=now,
            creating=False,
            history=history,
            linked=(supporter_ids, watcher_ids),
            files=files,
        )
        if not history:
            return incident, comment
        only_comment = all(e.kind in _COMMENT_KINDS for e in history)
        change = await live.record(
            incident_id=incident.id,
            kind=UpdateKind.COMMENTED if only_comment else UpdateKind.UPDATED,
            event_ids=[e.id for e in history],
            before=before,
        )
    await live.announce(change)
    return incident, comment


_COMMENT_KINDS = frozenset({_K.COMMENTED, _K.REFERENCE_ADDED, _K.ATTACHMENT_ADDED})


async def _apply(
    incident: Incident,
    actor: User,
    changes: IncidentChanges,
    *,
    now: datetime,
    creating: bool,
    history: list[IncidentEvent],
    linked: tuple[list[int], list[int]] = ([], []),
    files: Sequence[ReceivedFile] = (),
) -> Comment | None:
    """Checks and writes the changes on a locked incident, inside the caller's transaction.
    ``linked`` holds its current supporter and watcher ids."""

    def record(kind: IncidentEventKind, field: str | None, old: object, new: object) -> None:
        history.append(
            IncidentEvent(
                incident_id=incident.id,
                kind=kind,
                actor_id=actor.id,
                at=now,
                field=field,
                from_value=None if old is None else str(old),
                to_value=None if new is None else str(new),
            )
        )

    supporter_ids, watcher_ids = linked
    assignee_before = incident.assigned_to_id
    people = await _people(incident, changes, supporter_ids, watcher_ids)
    parties = parties_of(actor, incident, supporter_ids)

    def require_manager(what: str, field: str) -> None:
        if Party.MANAGER not in parties:
            raise Forbidden(f"only incident managers {what}", field=["input", field])

    def names(ids: Collection[int]) -> str:
        return ", ".join(sorted(people[user_id].name for user_id in ids))

    new_assignee = changes.assigned_to_id
    if not isinstance(new_assignee, Unset) and new_assignee != incident.assigned_to_id:
        require_manager("assign incidents", "assignedToId")
        if new_assignee is not None:
            _check_support_user(people[new_assignee], "assignedToId")
        old = incident.assigned_to_id
        record(
            _K.ASSIGNED,
            "assignedTo",
            None if old is None else people[old].name,
            None if new_assignee is None else people[new_assignee].name,
        )
        incident.assigned_to_id = new_assignee

    new_supporters = changes.supported_by_ids
    if not isinstance(new_supporters, Unset) and set(new_supporters) != set(supporter_ids):
        require_manager("choose who supports an incident", "supportedByIds")
        for user_id in set(new_supporters) - set(supporter_ids):
            _check_support_user(people[user_id], "supportedByIds")
        await _replace_links(IncidentSupporter, incident, supporter_ids, new_supporters)
        record(_K.SUPPORTERS_CHANGED, "supportedBy", names(supporter_ids), names(new_supporters))

    new_watchers = changes.watcher_ids
    if not isinstance(new_watchers, Unset) and set(new_watchers) != set(watcher_ids):
        touched = set(new_watchers) ^ set(watcher_ids)
        if not creating and touched - {actor.id}:
            require_manager("edit other people's watchlist", "watcherIds")
        for user_id in set(new_watchers) - set(watcher_ids):
            if not people[user_id].is_active:
                raise InvalidInput(
                    f"{people[user_id].name} is not an active user", field=["input", "watcherIds"]
                )
        await _replace_links(IncidentWatcher, incident, watcher_ids, new_watchers)
        record(_K.WATCHERS_CHANGED, "watchers", names(watcher_ids), names(new_watchers))

    if not isinstance(changes.status, Unset) and changes.status != incident.status:
        current = IncidentStatus(incident.status)
        permitted = allowed_targets(current, parties)
        if changes.status not in permitted:
            allowed = ", ".join(permitted) or "none"
            raise InvalidTransition(
                f"you may not move incident #{incident.number} from {current} to "
                f"{changes.status}; allowed: {allowed}",
                field=["input", "status"],
            )
        record(_K.STATUS_CHANGED, "status", current.value, changes.status.value)
        incident.status = changes.status

    for field, name, value in (("type", "type", changes.type), ("task", "task", changes.task)):
        old = getattr(incident, field)
        if not isinstance(value, Unset) and value != old:
            if not parties:
                raise Forbidden(
                    f"only the people working on an incident change its {name}",
                    field=["input", name],
                )
            record(_K.UPDATED, name, old, value)
            setattr(incident, field, value)

    impact = incident.impact if isinstance(changes.impact, Unset) else changes.impact
    urgency = incident.urgency if isinstance(changes.urgency, Unset) else changes.urgency
    if (impact, urgency) != (incident.impact, incident.urgency):
        require_manager(
            "change impact or urgency", "impact" if impact != incident.impact else "urgency"
        )
        priority = priority_of(impact, urgency)
        for field, before, after in (
            ("impact", incident.impact, impact),
            ("urgency", incident.urgency, urgency),
            ("priority", incident.priority, priority),
        ):
            if before != after:
                record(_K.PRIORITY_CHANGED, field, before, after)
        incident.impact, incident.urgency, incident.priority = impact, urgency, priority

    if not isinstance(changes.due_date, Unset) and changes.due_date != incident.due_date:
        require_manager("change the due date", "dueDate")
        old_due = incident.due_date
        new_due = changes.due_date
        record(
            _K.DUE_DATE_CHANGED,
            "dueDate",
            old_due and old_due.isoformat(),
            new_due and new_due.isoformat(),
        )
        incident.due_date = new_due

    comment = None
    if changes.comment is not None:
        comment = await Comment.create(
            incident_id=incident.id, author_id=actor.id, body=changes.comment, created_at=now
        )
        record(_K.COMMENTED, None, None, changes.comment[:200])
        _index(incident, changes.comment[:MAX_INDEXED_COMMENT])
    for reference in changes.references:
        await Reference.create(
            incident_id=incident.id,
            label=reference.label,
            url=reference.url,
            added_by_id=actor.id,
            added_at=now,
        )
        record(_K.REFERENCE_ADDED, "references", None, reference.label)
        _index(incident, reference.label)
    # A report's files belong to the incident; later ones to the comment they came with.
    on_comment = None if creating or comment is None else comment.id
    attached = []
    for file in files:
        attachment = await Attachment.create(
            incident_id=incident.id,
            comment_id=on_comment,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            uploaded_by_id=actor.id,
            uploaded_at=now,
        )
        attached.append(attachment)
        record(_K.ATTACHMENT_ADDED, "attachments", None, file.filename)
        _index(incident, file.filename)

    if history and not creating:
        incident.version += 1
    if history or creating:
        await incident.save()
        for event in history:
            await event.save()
        # Email goes through the outbox, written in this transaction: sent once committed.
        await queue_notices(
            incident=incident,
            actor=actor,
            history=history,
            changes=changes,
            assignee_before=assignee_before,
            supporters_before=supporter_ids,
            attachments=attached,
        )
    return comment


def _index(incident: Incident, text: str) -> None:
    room = MAX_SEARCH_DOCUMENT - len(incident.search_document) - 1
    if room > 0:
        incident.search_document += "\n" + text[:room]


def _check_support_user(user: User, field: str) -> None:
    if not user.is_active or user.role not in SUPPORT_ROLES:
        raise InvalidInput(
            f"{user.name} must be an active agent, manager or admin", field=["input", field]
        )


async def _people(
    incident: Incident,
    changes: IncidentChanges,
    supporter_ids: Sequence[int],
    watcher_ids: Sequence[int],
) -> dict[int, User]:
    """Every user the change names or replaces, by id; a named id that does not exist fails."""
    named: dict[int, str] = {}
    if not isinstance(changes.assigned_to_id, Unset) and changes.assigned_to_id is not None:
        named[changes.assigned_to_id] = "assignedToId"
    if not isinstance(changes.supported_by_ids, Unset):
        named.update(dict.fromkeys(changes.supported_by_ids, "supportedByIds"))
    if not isinstance(changes.watcher_ids, Unset):
        named.update(dict.fromkeys(changes.watcher_ids, "watcherIds"))
    wanted = {*named, *supporter_ids, *watcher_ids}
    if incident.assigned_to_id is not None:
        wanted.add(incident.assigned_to_id)
    people = {user.id: user for user in await User.filter(id__in=list(wanted))}
    for user_id, field in named.items():
        if user_id not in people:
            raise NotFound(f"{field} names a user who does not exist", field=["input", field])
    return people


async def _linked_user_ids(
    model: type[IncidentSupporter] | type[IncidentWatcher], incident: Incident
) -> list[int]:
    ids = await model.filter(incident_id=incident.id).values_list("user_id", flat=True)
    return [int(user_id) for user_id in ids]  # type: ignore[call-overload]


async def _replace_links(
    model: type[IncidentSupporter] | type[IncidentWatcher],
    incident: Incident,
    old_ids: Collection[int],
    new_ids: Collection[int],
) -> None:
    removed = set(old_ids) - set(new_ids)
    if removed:
        await model.filter(incident_id=incident.id, user_id__in=list(removed)).delete()
    added = [user_id for user_id in new_ids if user_id not in set(old_ids)]
    if added:
        links: list[Any] = [model(incident_id=incident.id, user_id=u) for u in added]
        await model.bulk_create(links)
