"""The incident service: every change to an incident goes through here, one transaction each.

Whatever asks for it (a report, Save/Send, an assignment, a status move, a comment, watching),
a change takes the same steps:

1. clean the request (``fields.clean``) and store its files, before any lock;
2. lock the incident and check ``expectedVersion`` (a report takes the next Request ID);
3. find the fields the request alters, check the actor's right to each and the people it
   names, write them (the field rules of ``fields.RULES``);
4. add the comment, references and files;
5. keep the change as a ``ChangeSet``: its history entries, its search text, its outbox rows
   and its change-log row for live updates, all in the change's transaction;
6. once committed, announce it to live subscribers.

Nothing is written when any check fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F
from tortoise.models import Model

from gql_support.accounts.models import User
from gql_support.attachments.models import Attachment
from gql_support.attachments.service import AttachmentStore, IncomingFile, ReceivedFile, receive
from gql_support.db import transaction
from gql_support.errors import InvalidTransition, NotFound, VersionConflict
from gql_support.incidents import fields
from gql_support.incidents.changes import (
    MAX_COMMENT,
    MAX_DESCRIPTION,
    UNSET,
    IncidentChanges,
    NewReference,
    Unset,
    clean_text,
)
from gql_support.incidents.changeset import ChangeSet, history_of, notice_of
from gql_support.incidents.fields import Current, FieldChange, Occasion
from gql_support.incidents.filters import filter_view
from gql_support.incidents.models import (
    Comment,
    Impact,
    Incident,
    IncidentCounter,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Reference,
    Urgency,
)
from gql_support.incidents.workflow import priority_of
from gql_support.live import changes as live
from gql_support.live.models import IncidentChange, UpdateKind
from gql_support.notify.queue import queue_notices

#: Text kept for search per comment, and per incident: PostgreSQL's tsvector holds 1 MB at most.
MAX_INDEXED_COMMENT = 20_000
MAX_SEARCH_DOCUMENT = 200_000


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
    changes = fields.clean(changes or IncidentChanges())
    changes = replace(
        changes,
        type=type or changes.type,
        impact=impact or changes.impact,
        urgency=urgency or changes.urgency,
    )
    now = datetime.now(UTC)
    async with receive(store, changes.attachments) as files, transaction():
        incident = Incident(
            number=await _next_number(),
            description=description,
            type=IncidentType.DEFECT,
            impact=Impact.MEDIUM,
            urgency=Urgency.MEDIUM,
            priority=priority_of(Impact.MEDIUM, Urgency.MEDIUM),
            status=IncidentStatus.NEW,
            reporter_id=actor.id,
            search_document=description,
        )
        current = Current(incident=incident, supporter_ids=[], watcher_ids=[])
        done = await _change(current, actor, changes, files, occasion=Occasion.REPORT, at=now)
        logged = await _keep(done, before=None)
    await live.announce(logged)
    return incident


async def edit_incident(
    *,
    actor: User,
    incident_id: int,
    changes: IncidentChanges,
    expected_version: int | None = None,
    store: AttachmentStore | None = None,
) -> ChangeSet:
    """Applies any mix of changes at once (Save/Send): one version bump, one history batch."""
    changes = fields.clean(changes)
    return await _edit(
        actor=actor,
        incident_id=incident_id,
        expected_version=expected_version,
        request=lambda _: changes,
        attachments=changes.attachments,
        store=store,
    )


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
    done = await edit_incident(
        actor=actor, incident_id=incident_id, changes=changes, expected_version=expected_version
    )
    return done.incident


async def update_status(
    *,
    actor: User,
    incident_id: int,
    status: IncidentStatus,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Moves the incident along the workflow, keeping the reason as a comment."""
    changes = fields.clean(IncidentChanges(status=status, comment=comment))

    def move(current: Current) -> IncidentChanges:
        # Unlike Save/Send, which sends the form's status as it stands, this asks for a move.
        if current.incident.status == status:
            raise InvalidTransition(
                f"incident #{current.incident.number} is already {status}",
                field=["input", "status"],
            )
        return changes

    done = await _edit(
        actor=actor, incident_id=incident_id, expected_version=expected_version, request=move
    )
    return done.incident


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
    done = await edit_incident(
        actor=actor,
        incident_id=incident_id,
        changes=IncidentChanges(comment=body, references=references, attachments=attachments),
        store=store,
    )
    assert done.comment is not None
    return done.comment, done.incident


async def watch_incident(*, actor: User, incident_id: int, watching: bool) -> Incident:
    """Puts the actor on the incident's watchlist, or takes them off it."""

    def watchlist(current: Current) -> IncidentChanges:
        others = [user_id for user_id in current.watcher_ids if user_id != actor.id]
        return IncidentChanges(watcher_ids=[*others, actor.id] if watching else others)

    done = await _edit(actor=actor, incident_id=incident_id, request=watchlist)
    return done.incident


async def _edit(
    *,
    actor: User,
    incident_id: int,
    request: Callable[[Current], IncidentChanges],
    expected_version: int | None = None,
    attachments: Sequence[IncomingFile] = (),
    store: AttachmentStore | None = None,
) -> ChangeSet:
    """Locks the incident, makes the change ``request`` asks of it as it stands, keeps it."""
    now = datetime.now(UTC)
    async with receive(store, attachments) as files, transaction():
        current = await _locked(incident_id, expected_version)
        before = filter_view(current.incident, current.supporter_ids, current.watcher_ids)
        done = await _change(
            current, actor, request(current), files, occasion=Occasion.EDIT, at=now
        )
        if done.empty:
            return done
        logged = await _keep(done, before=before)
    await live.announce(logged)
    return done


async def _next_number() -> int:
    """The next Request ID; the counter's row lock keeps numbering gapless."""
    await IncidentCounter.filter(id=1).update(value=F("value") + 1)
    counter = await IncidentCounter.get(id=1)
    return counter.value


async def _locked(incident_id: int, expected_version: int | None) -> Current:
    """The incident, locked for the change, at the version the caller expects."""
    incident = await Incident.filter(id=incident_id).select_for_update().first()
    if incident is None:
        raise NotFound("no such incident", field=["input", "incidentId"])
    if expected_version is not None and expected_version != incident.version:
        raise VersionConflict(
            f"incident #{incident.number} is at version {incident.version}, "
            f"not {expected_version}: reload it and apply your change again",
            field=["input", "expectedVersion"],
        )
    supporter_ids, watcher_ids = await _linked_user_ids(incident)
    return Current(incident=incident, supporter_ids=supporter_ids, watcher_ids=watcher_ids)


async def _change(
    current: Current,
    actor: User,
    changes: IncidentChanges,
    files: Sequence[ReceivedFile],
    *,
    occasion: Occasion,
    at: datetime,
) -> ChangeSet:
    """Checks and writes the fields and additions of a change on the incident."""
    incident = current.incident
    found = fields.find(current, changes)
    fields.authorize(found, actor=actor, current=current, occasion=occasion)
    people = await _people(found)
    fields.check(found, people)
    fields.set_columns(incident, found)
    for text in _search_text(found, people, changes, files):
        _index(incident, text)
    if occasion is Occasion.REPORT:
        await incident.save()
    elif found or changes.comment is not None or changes.references or files:
        incident.version += 1
        await incident.save()
    await fields.write_links(incident, found)
    comment, references, attachments = await _add(incident, actor, changes, files, at, occasion)
    return ChangeSet(
        occasion=occasion,
        incident=incident,
        actor=actor,
        at=at,
        before=current,
        fields=found,
        people=people,
        comment=comment,
        references=references,
        attachments=attachments,
    )


def _search_text(
    found: Sequence[FieldChange],
    people: Mapping[int, User],
    changes: IncidentChanges,
    files: Sequence[ReceivedFile],
) -> list[str]:
    """What the change adds to the incident's search document."""
    texts = [
        change.rule.show(change.new, people) or "" for change in found if change.rule.searchable
    ]
    if changes.comment is not None:
        texts.append(changes.comment[:MAX_INDEXED_COMMENT])
    texts += [reference.label for reference in changes.references]
    texts += [file.filename for file in files]
    return texts


async def _add(
    incident: Incident,
    actor: User,
    changes: IncidentChanges,
    files: Sequence[ReceivedFile],
    at: datetime,
    occasion: Occasion,
) -> tuple[Comment | None, list[Reference], list[Attachment]]:
    """Writes the comment, references and files a change adds."""
    comment = None
    if changes.comment is not None:
        comment = await Comment.create(
            incident_id=incident.id, author_id=actor.id, body=changes.comment, created_at=at
        )
    references = [
        await Reference.create(
            incident_id=incident.id, label=r.label, url=r.url, added_by_id=actor.id, added_at=at
        )
        for r in changes.references
    ]
    # A report's files belong to the incident; later ones to the comment they came with.
    on_comment = None if occasion is Occasion.REPORT or comment is None else comment.id
    attachments = [
        await Attachment.create(
            incident_id=incident.id,
            comment_id=on_comment,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            uploaded_by_id=actor.id,
            uploaded_at=at,
        )
        for file in files
    ]
    return comment, references, attachments


async def _keep(done: ChangeSet, *, before: dict[str, Any] | None) -> IncidentChange:
    """Writes what the change set tells, in its transaction: history, outbox, change log."""
    history = history_of(done)
    await _insert_all(history)
    # Email goes through the outbox, written in this transaction: sent once committed.
    await queue_notices(notice_of(done))
    if done.occasion is Occasion.REPORT:
        kind = UpdateKind.CREATED
    else:
        kind = UpdateKind.UPDATED if done.fields else UpdateKind.COMMENTED
    return await live.record(
        incident_id=done.incident.id,
        kind=kind,
        event_ids=[event.id for event in history],
        before=before,
    )


async def _insert_all(rows: Sequence[Model]) -> None:
    """Writes rows of one model in a single INSERT (one round trip, not one per row) and sets
    their ids, in order."""
    if not rows:
        return
    model = type(rows[0])
    db = model._meta.db
    executor = db.executor_class(model=model, db=db)
    columns = executor.regular_columns
    fields_map = model._meta.fields_map
    query = db.query_class.into(model._meta.basetable).columns(
        *(model._meta.fields_db_projection[column] for column in columns)
    )
    values: list[Any] = []
    for row in rows:
        query = query.insert(*(executor.parameter(len(values) + i) for i in range(len(columns))))
        values += [fields_map[column].to_db_value(getattr(row, column), row) for column in columns]
    if db.capabilities.dialect == "postgres":
        returned = await db.execute_query_dict(f"{query} RETURNING id", values)
        ids = [int(r["id"]) for r in returned]
    else:
        # SQLite numbers a statement's rows one after another (it has a single writer).
        last = int(await db.execute_insert(str(query), values))
        ids = list(range(last - len(rows) + 1, last + 1))
    for row, row_id in zip(rows, ids, strict=True):
        row.pk = row_id
        row._saved_in_db = True


def _index(incident: Incident, text: str) -> None:
    room = MAX_SEARCH_DOCUMENT - len(incident.search_document) - 1
    if room > 0:
        incident.search_document += "\n" + text[:room]


async def _people(found: Sequence[FieldChange]) -> dict[int, User]:
    """Everyone the changed fields name, before or after, by id."""
    wanted = fields.users_named(found)
    if not wanted:
        return {}
    return {user.id: user for user in await User.filter(id__in=list(wanted))}


#: The incident's supporters (0) and watchers (1), in one round trip.
_LINKS_SQL = (
    f'SELECT 0 AS link, user_id FROM "{IncidentSupporter._meta.db_table}"'
    " WHERE incident_id = {0}"
    f' UNION ALL SELECT 1, user_id FROM "{IncidentWatcher._meta.db_table}"'
    " WHERE incident_id = {0}"
)


async def _linked_user_ids(incident: Incident) -> tuple[list[int], list[int]]:
    """The ids of the incident's supporters and of its watchers."""
    db = Incident._meta.db
    if db.capabilities.dialect == "postgres":
        rows = await db.execute_query_dict(_LINKS_SQL.format("$1"), [incident.id])
    else:
        rows = await db.execute_query_dict(_LINKS_SQL.format("?"), [incident.id, incident.id])
    links: tuple[list[int], list[int]] = ([], [])
    for row in rows:
        links[int(row["link"])].append(int(row["user_id"]))
    return links
