"""Due-date reminders and the managers' daily digest, as the worker sends them.

At a given moment (the worker's clock), ``queue_due`` finds:

- "due soon": incidents in NEW, IN_PROGRESS or RETESTING whose due date is less than
  ``reminder_lead_working_days`` working days (Monday to Friday, in the desk's time zone)
  ahead, told to the assignee and the supporters;
- "overdue": the same whose due date has passed, at most ``reminder_catch_up_hours`` ago,
  told to the assignee and the incident managers;
- the digest: for each manager whose day (in their own time zone) has reached
  ``digest_hour``, the incidents then overdue (however long ago) and those without an
  assignee.

ON_HOLD, RESOLVED, CLOSED and REJECTED incidents get no reminder, and count in no digest.

A backlog is not a flood: a desk whose worker was down for a week, that upgrades from a
version without reminders, or restores a backup, has thousands of incidents overdue and
never reminded of. Emailing each to its assignee and every manager would bury the managers
(a million-incident desk had 224,000: 1.3 million emails) and tell nobody anything the digest
does not: so only due dates passed within the catch-up time get an "overdue" email, and the
digest counts and lists the rest. Due soon needs no such bound: its window is ahead.

The worker reads the incidents to remind about ``reminder_batch_size`` at a time, in the
order of their ids (each batch starts after the last id of the one before), and writes each
batch in a transaction of its own, letting requests run between two: however large the
backlog, it holds a batch in memory and its row locks for one batch's statements.

Each is written once, however many workers run, and whenever they restart: its outbox rows
are written in the transaction that marks it sent. A reminder's mark is the due date it was
sent for (``Incident.due_soon_sent_for``, ``overdue_sent_for``), set by an UPDATE that
matches only while the mark differs from the incident's due date: of two workers, the second
one's UPDATE (on PostgreSQL, after waiting for the first one's row lock) matches nothing and
it writes nothing. Both lock a batch's rows in the order of their ids, so they cannot
deadlock. Moving the due date makes the mark differ again, which arms the reminders for the
new date. A digest's mark is a ``DigestSent`` row, unique per manager and day: the second
insert fails and rolls its transaction back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from gql_support.accounts.models import Role, User
from gql_support.events import DigestDue, IncidentDue
from gql_support.incidents.models import DigestSent, Incident, IncidentStatus, IncidentSupporter
from gql_support.notify.formats import zone_of
from gql_support.notify.queue import queue_digest, queue_reminders
from gql_support.notify.recipients import ChangeKind
from gql_support.settings import Settings

log = logging.getLogger(__name__)

#: Statuses in which an incident is being worked on, and so is reminded of its due date.
REMINDED_STATUSES = (IncidentStatus.NEW, IncidentStatus.IN_PROGRESS, IncidentStatus.RETESTING)
#: Most incidents of each list a digest shows; it gives the count of the rest.
DIGEST_LIMIT = 50
_MARKS = {ChangeKind.DUE_SOON: "due_soon_sent_for", ChangeKind.OVERDUE: "overdue_sent_for"}


def due_soon_from(due_date: datetime, *, working_days: int, time_zone: str) -> datetime:
    """The moment ``working_days`` working days (Monday to Friday) before the due date, at the
    same time of day in the time zone: from then on the incident is due soon."""
    moment = due_date.astimezone(zone_of(time_zone))
    left = working_days
    while left:
        # Python subtracts on the local clock: a day before 09:00 is 09:00, across DST too.
        moment -= timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


async def queue_due(*, now: datetime, settings: Settings) -> int:
    """Writes the reminders and digests due at ``now`` that no worker wrote yet; returns how
    many outbox rows that made."""
    batch = settings.reminder_batch_size
    since = now - timedelta(hours=settings.reminder_catch_up_hours)
    overdue = _overdue(now).filter(due_date__gt=since)
    written = await _queue_reminders(ChangeKind.OVERDUE, overdue, now=now, batch=batch)
    # Due soon: within the lead time, which spans at most 2 weekend days per 5 working days.
    horizon = now + timedelta(days=settings.reminder_lead_working_days * 7 // 5 + 3)
    soon = _reminded().filter(due_date__gt=now, due_date__lte=horizon)
    written += await _queue_reminders(
        ChangeKind.DUE_SOON,
        soon,
        now=now,
        batch=batch,
        keep=lambda due: (
            now
            >= due_soon_from(
                due,
                working_days=settings.reminder_lead_working_days,
                time_zone=settings.default_time_zone,
            )
        ),
    )
    return written + await _queue_digests(now=now, settings=settings)


def _reminded() -> QuerySet[Incident]:
    return Incident.filter(status__in=REMINDED_STATUSES, due_date__isnull=False)


def _overdue(now: datetime) -> QuerySet[Incident]:
    return _reminded().filter(due_date__lte=now)


async def _queue_reminders(
    kind: ChangeKind,
    query: QuerySet[Incident],
    *,
    now: datetime,
    batch: int,
    keep: Callable[[datetime], bool] = lambda due: True,
) -> int:
    """Reminds of the incidents the query finds and that are not marked yet, ``batch`` at a
    time by id, each batch in a transaction of its own."""
    unsent = (
        query.filter(_unsent(_MARKS[kind], F("due_date")))
        .select_related("assigned_to")
        .order_by("id")
    )
    written = after = 0
    while found := await unsent.filter(id__gt=after).limit(batch):
        after = found[-1].id
        due = [i for i in found if i.due_date is not None and keep(i.due_date)]
        if due:
            written += await _remind(kind, due, now=now)
        # However long the backlog, requests run between two batches.
        await asyncio.sleep(0)
    return written


async def _remind(kind: ChangeKind, incidents: list[Incident], *, now: datetime) -> int:
    """Marks the incidents reminded of, and writes the reminders of those it marked, in one
    transaction; returns how many outbox rows that made."""
    mark = _MARKS[kind]
    supporters = await _supporters([i.id for i in incidents])
    async with in_transaction():
        marked = []
        for incident in incidents:
            # Matches only if no other worker marked it first, and the incident is as read.
            if (
                await Incident.filter(
                    id=incident.id, due_date=incident.due_date, status__in=REMINDED_STATUSES
                )
                .filter(_unsent(mark, incident.due_date))
                .update(**{mark: incident.due_date})
            ):
                marked.append(_due(incident, supporters[incident.id]))
        return await queue_reminders(marked, kind, at=now) if marked else 0


def _unsent(mark: str, due: F | datetime | None) -> Q:
    """Incidents whose mark is not the due date given (a NULL mark equals nothing)."""
    never: dict[str, Any] = {f"{mark}__isnull": True}
    sent: dict[str, Any] = {mark: due}
    return Q(**never) | ~Q(**sent)


async def _supporters(incident_ids: list[int]) -> dict[int, list[int]]:
    by_incident: dict[int, list[int]] = defaultdict(list)
    links = IncidentSupporter.filter(incident_id__in=incident_ids).order_by("user_id")
    for incident_id, user_id in await links.values_list("incident_id", "user_id"):
        by_incident[incident_id].append(user_id)
    return by_incident


def _due(incident: Incident, supporter_ids: list[int]) -> IncidentDue:
    assignee = incident.assigned_to
    return IncidentDue(
        incident_id=incident.id,
        number=incident.number,
        description=incident.description,
        status=incident.status.value,
        priority=incident.priority.value,
        due_date=incident.due_date,
        reporter_id=incident.reporter_id,
        assignee_id=incident.assigned_to_id,
        assignee_name=None if assignee is None else assignee.name,
        supporter_ids=tuple(supporter_ids),
    )


async def _queue_digests(*, now: datetime, settings: Settings) -> int:
    """Each manager's digest of the day, once their day has reached the digest hour."""
    waiting = []
    for manager in await User.filter(role=Role.MANAGER, is_active=True).order_by("id"):
        local = now.astimezone(zone_of(manager.time_zone))
        if local.hour >= settings.digest_hour:
            waiting.append((manager, local.date()))
    if not waiting:
        return 0
    done = set(
        await DigestSent.filter(
            user_id__in=[m.id for m, _ in waiting], day__in=list({d for _, d in waiting})
        ).values_list("user_id", "day")
    )
    waiting = [(m, d) for m, d in waiting if (m.id, d) not in done]
    if not waiting:
        return 0
    overdue = _overdue(now)
    unassigned = Incident.filter(status__in=REMINDED_STATUSES, assigned_to_id__isnull=True)
    overdue_count, unassigned_count = await overdue.count(), await unassigned.count()
    lists = [
        [
            _due(i, [])
            for i in await query.select_related("assigned_to")
            .order_by(order, "id")
            .limit(DIGEST_LIMIT)
        ]
        for query, order in ((overdue, "due_date"), (unassigned, "created_at"))
    ]
    written = 0
    for manager, day in waiting:
        digest = DigestDue(
            manager_id=manager.id,
            day=day,
            overdue=tuple(lists[0]),
            overdue_count=overdue_count,
            unassigned=tuple(lists[1]),
            unassigned_count=unassigned_count,
        )
        try:
            async with in_transaction():
                await DigestSent.create(user_id=manager.id, day=day)
                if overdue_count or unassigned_count:
                    written += await queue_digest(digest, at=now)
        except IntegrityError:
            log.debug("digest of manager %s for %s already written", manager.id, day)
    return written


def for_worker(settings: Settings) -> Callable[[datetime], Awaitable[int]]:
    """What an outbox worker calls to have the reminders due at a moment written."""

    async def queue(now: datetime) -> int:
        return await queue_due(now=now, settings=settings)

    return queue
