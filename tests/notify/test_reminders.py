"""Due-date reminders and the managers' digest, sent by the worker at the moments its clock
says: each once, to the right people, never for incidents on hold or done, again after the
due date moves."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from gql_support.accounts.models import Role
from gql_support.incidents import reminders, service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import Incident, IncidentStatus
from gql_support.incidents.reminders import due_soon_from
from gql_support.notify.models import NoticeReason, OutboxMessage, OutboxStatus
from gql_support.notify.worker import OutboxWorker
from gql_support.settings import Settings
from tests.api.test_query_count import statements
from tests.conftest import GraphQLClient, MakePerson, Person, start_cli
from tests.documents import REPORT, SAVE
from tests.notify.conftest import Clock, SmtpServer

#: Wednesday 2 December 2026, 09:00 UTC.
WEDNESDAY = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.now = WEDNESDAY
    return clock


@pytest.fixture
def reminder_worker(mail_settings: Settings, clock: Clock) -> Any:
    """A worker on the test's clock that writes reminders, as ``gql-support worker`` does."""

    def make(**overrides: Any) -> OutboxWorker:
        settings = mail_settings.model_copy(update=overrides)
        return OutboxWorker(settings, clock=clock, reminders=reminders.for_worker(settings))

    return make


async def _person(make_person: MakePerson, role: Role, *, time_zone: str = "UTC") -> Person:
    return await make_person(role, time_zone=time_zone)


async def _reasons() -> Counter[tuple[str, int, int | None]]:
    """The outbox's reminder rows: (reason, recipient, incident) and how many of each."""
    rows = await OutboxMessage.filter(
        reason__in=[NoticeReason.DUE_SOON, NoticeReason.OVERDUE, NoticeReason.DIGEST]
    )
    return Counter((row.reason.value, row.recipient_id, row.incident_id) for row in rows)


def test_due_soon_counts_working_days_back_from_the_due_date() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert due_soon_from(monday, working_days=1, time_zone="UTC") == monday - timedelta(days=3)
    assert due_soon_from(monday, working_days=6, time_zone="UTC") == monday - timedelta(days=10)
    # On the local clock: 09:00 in Paris the Friday before, across no DST change here.
    paris = due_soon_from(monday, working_days=1, time_zone="Europe/Paris")
    assert paris == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    # Across the end of summer time, a working day before 09:00 is still 09:00 local.
    after_dst = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris (UTC+1)
    before = due_soon_from(after_dst, working_days=1, time_zone="Europe/Paris")
    assert before == datetime(2026, 10, 23, 7, 0, tzinfo=UTC)  # Friday 09:00 (UTC+2)


async def test_due_soon_then_overdue_each_go_once_to_their_people(
    make_person: MakePerson, reminder_worker: Any, clock: Clock, smtp: SmtpServer
) -> None:
    # Given an incident due on Friday at noon, with an assignee, a supporter and a manager
    manager = await _person(make_person, Role.MANAGER)
    agent = await _person(make_person, Role.AGENT)
    helper = await _person(make_person, Role.AGENT)
    watcher = await _person(make_person, Role.USER)
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    incident = await service.report_incident(
        actor=manager.user,
        description="Budget export times out",
        changes=IncidentChanges(
            assigned_to_id=agent.user.id,
            supported_by_ids=[helper.user.id],
            watcher_ids=[watcher.user.id],
            due_date=friday_noon,
        ),
    )
    worker = reminder_worker(digest_hour=23)
    await worker.drain()
    assert await _reasons() == Counter()

    # When the clock reaches one working day before the due date
    clock.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    await worker.drain()
    # Then the assignee and the supporter are told it is due soon, once each
    due_soon = Counter(
        {
            ("DUE_SOON", agent.user.id, incident.id): 1,
            ("DUE_SOON", helper.user.id, incident.id): 1,
        }
    )
    assert await _reasons() == due_soon
    (email,) = smtp.inbox.to(agent.user.email)[-1:]
    assert email.message["Subject"] == "[#1] Due Dec 4, 2026, 12:00 PM: Budget export times out"
    assert "https://desk.example.com/incidents/1" in email.part("plain")

    # and looking again, however often, writes nothing more
    for _ in range(3):
        clock.advance(minutes=5)
        await worker.drain()
    assert await _reasons() == due_soon

    # When the due date passes
    clock.now = friday_noon + timedelta(seconds=1)
    await worker.drain()
    await reminder_worker(digest_hour=23).drain()  # a restarted worker, too
    # Then the assignee and the manager are told it is overdue, once each
    assert await _reasons() == due_soon + Counter(
        {
            ("OVERDUE", agent.user.id, incident.id): 1,
            ("OVERDUE", manager.user.id, incident.id): 1,
        }
    )
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).count() == 0


async def test_on_hold_and_finished_incidents_get_no_reminder_and_a_new_due_date_rearms(
    make_person: MakePerson, reminder_worker: Any, clock: Clock
) -> None:
    # Given three overdue incidents: one on hold, one resolved, one in progress
    manager = await _person(make_person, Role.MANAGER)
    agent = await _person(make_person, Role.AGENT)
    due = WEDNESDAY - timedelta(hours=1)

    async def overdue(status: IncidentStatus) -> Incident:
        incident = await service.report_incident(
            actor=manager.user,
            description=f"Incident {status.value}",
            changes=IncidentChanges(assigned_to_id=agent.user.id, due_date=due),
        )
        for step in {
            IncidentStatus.NEW: [],
            IncidentStatus.IN_PROGRESS: [IncidentStatus.IN_PROGRESS],
            IncidentStatus.ON_HOLD: [IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD],
            IncidentStatus.RESOLVED: [IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED],
        }[status]:
            await service.update_status(actor=manager.user, incident_id=incident.id, status=step)
        return incident

    on_hold = await overdue(IncidentStatus.ON_HOLD)
    await overdue(IncidentStatus.RESOLVED)
    working = await overdue(IncidentStatus.IN_PROGRESS)
    worker = reminder_worker(digest_hour=23)

    # When the worker runs
    await worker.drain()
    # Then only the incident in progress is reminded about
    assert {incident for _, _, incident in await _reasons()} == {working.id}

    # When its due date moves to Monday, and the one on hold comes back in progress
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await service.edit_incident(
        actor=manager.user, incident_id=working.id, changes=IncidentChanges(due_date=monday)
    )
    await service.update_status(
        actor=manager.user, incident_id=on_hold.id, status=IncidentStatus.IN_PROGRESS
    )
    clock.advance(minutes=5)
    await worker.drain()
    # Then the one back in progress is overdue now
    assert (await _reasons())[("OVERDUE", agent.user.id, on_hold.id)] == 1
    # and the moved one is reminded again, due soon on Friday and overdue on Monday
    clock.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    await worker.drain()
    clock.now = monday
    await worker.drain()
    assert {
        (reason, count)
        for (reason, user, incident), count in (await _reasons()).items()
        if incident == working.id and user == agent.user.id
    } == {("OVERDUE", 2), ("DUE_SOON", 1)}


async def test_a_due_date_set_and_moved_through_the_api_arms_the_reminders(
    gql: GraphQLClient,
    make_person: MakePerson,
    reminder_worker: Any,
    clock: Clock,
    smtp: SmtpServer,
) -> None:
    # Given an incident reported through the API, due at 10:00 in Paris on Wednesday
    manager = await _person(make_person, Role.MANAGER)
    agent = await _person(make_person, Role.AGENT, time_zone="Europe/Paris")
    report = {"description": "VPN drops", "assignedToId": agent.id}
    data = await gql.execute(
        REPORT, {"input": report | {"dueDate": "2026-12-02T10:00:00+01:00"}}, as_=manager
    )
    incident_id = data["reportIncident"]["incident"]["id"]
    worker = reminder_worker(digest_hour=23)

    def reminders_to(person: Person) -> list[str]:
        return [
            str(r.message["Subject"])
            for r in smtp.inbox.to(person.user.email)
            if " Due " in str(r.message["Subject"]) or "Overdue" in str(r.message["Subject"])
        ]

    # When the worker runs at that moment
    await worker.drain()
    # Then the assignee is told it is overdue, in their time zone
    assert reminders_to(agent) == ["[#1] Overdue since Dec 2, 2026, 10:00 AM: VPN drops"]

    # When the due date moves to Monday 09:00 UTC through the API, and the days pass
    moved = {"incidentId": incident_id, "dueDate": "2026-12-07T09:00:00Z"}
    data = await gql.execute(SAVE, {"input": moved}, as_=manager)
    assert data["saveIncident"]["errors"] == []
    for moment in (
        datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    ):
        clock.now = moment
        await worker.drain()

    # Then it was due soon on Friday and overdue on Monday, each told once
    assert reminders_to(agent) == [
        "[#1] Overdue since Dec 2, 2026, 10:00 AM: VPN drops",
        "[#1] Due Dec 7, 2026, 10:00 AM: VPN drops",
        "[#1] Overdue since Dec 7, 2026, 10:00 AM: VPN drops",
    ]
    assert reminders_to(manager) == [
        "[#1] Overdue since Dec 2, 2026, 9:00 AM: VPN drops",
        "[#1] Overdue since Dec 7, 2026, 9:00 AM: VPN drops",
    ]


async def test_each_manager_gets_one_digest_a_day_at_the_hour_of_their_time_zone(
    make_person: MakePerson, reminder_worker: Any, clock: Clock, smtp: SmtpServer
) -> None:
    # Given a manager in Tokyo and one in New York, an overdue and an unassigned incident
    tokyo = await _person(make_person, Role.MANAGER, time_zone="Asia/Tokyo")
    new_york = await _person(make_person, Role.MANAGER, time_zone="America/New_York")
    agent = await _person(make_person, Role.AGENT)
    await service.report_incident(
        actor=tokyo.user,
        description="Late one",
        changes=IncidentChanges(assigned_to_id=agent.user.id, due_date=WEDNESDAY),
    )
    await service.report_incident(actor=agent.user, description="Nobody's yet")
    worker = reminder_worker(digest_hour=8)

    def digests() -> list[tuple[int | None, int]]:
        return sorted(
            (user, count) for (reason, user, _), count in counts.items() if reason == "DIGEST"
        )

    # When it is 17:30 in New York (Wednesday) and 07:30 in Tokyo (Thursday)
    clock.now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    await worker.drain()
    counts = await _reasons()
    # Then New York has Wednesday's digest (late, but not lost), Tokyo nothing yet
    assert digests() == [(new_york.user.id, 1)]

    # When Tokyo reaches 08:00, and the worker looks again and again
    clock.now = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    for _ in range(3):
        await worker.drain()
        clock.advance(minutes=1)
    counts = await _reasons()
    # Then Tokyo has its digest, and nobody a second one that day
    assert digests() == [(tokyo.user.id, 1), (new_york.user.id, 1)]
    (digest,) = [r for r in smtp.inbox.to(tokyo.user.email) if "digest" in r.message["Subject"]]
    assert digest.message["Subject"] == (
        "Daily digest, Thursday, December 3, 2026: 1 overdue, 1 unassigned"
    )
    text = digest.part("plain")
    assert "#1 Late one" in text
    assert "#2 Nobody's yet" in text
    assert digest.message["In-Reply-To"] is None

    # When New York reaches 08:00 on Thursday
    clock.now = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    await worker.drain()
    counts = await _reasons()
    # Then it gets Thursday's
    assert digests() == [(tokyo.user.id, 1), (new_york.user.id, 2)]


async def _many_due(make_person: MakePerson, incidents: int) -> tuple[Person, Person]:
    """Overdue incidents, each with an assignee, and a manager (in the past, by real time)."""
    manager = await _person(make_person, Role.MANAGER)
    agent = await _person(make_person, Role.AGENT)
    past = datetime.now(UTC) - timedelta(hours=1)
    for i in range(incidents):
        await service.report_incident(
            actor=manager.user,
            description=f"Overdue {i}",
            changes=IncidentChanges(assigned_to_id=agent.user.id, due_date=past),
        )
    await OutboxMessage.all().delete()
    return manager, agent


def _once_each(smtp: SmtpServer) -> Counter[str]:
    counts = Counter(str(r.message["Message-ID"]) for r in smtp.inbox.received)
    assert set(counts.values()) == {1}
    return counts


async def test_workers_at_the_same_moment_write_each_reminder_once(
    make_person: MakePerson, reminder_worker: Any, clock: Clock, smtp: SmtpServer
) -> None:
    # Given 15 overdue incidents and a manager whose digest is due
    _, agent = await _many_due(make_person, 15)
    clock.now = datetime.now(UTC)

    # When three workers run at once, with the same clock
    workers = [
        reminder_worker(digest_hour=0, outbox_batch_size=5, reminder_batch_size=4) for _ in range(3)
    ]
    await asyncio.gather(*(w.drain() for w in workers))

    # Then each incident's reminder was written once per person, the digest once, and each
    # email sent once
    counts = await _reasons()
    assert set(counts.values()) == {1}
    assert (
        sum(1 for reason, user, _ in counts if reason == "OVERDUE" and user == agent.user.id) == 15
    )
    assert sum(1 for reason, _, _ in counts if reason == "DIGEST") == 1
    assert len(_once_each(smtp)) == 31


@pytest.mark.parametrize("backend", ["postgres"])
async def test_worker_processes_write_each_reminder_once(
    make_person: MakePerson, mail_settings: Settings, smtp: SmtpServer
) -> None:
    # Given 40 overdue incidents and a manager
    await _many_due(make_person, 40)

    # When two worker processes look for reminders and send them at the same time
    processes = [
        await start_cli(
            mail_settings,
            "worker",
            "--once",
            GQL_SUPPORT_OUTBOX_BATCH_SIZE="10",
            GQL_SUPPORT_REMINDER_BATCH_SIZE="7",
            GQL_SUPPORT_DIGEST_HOUR="0",
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    # Then every reminder was written and sent exactly once
    counts = await _reasons()
    assert set(counts.values()) == {1}
    assert len(counts) == 40 * 2 + 1
    assert len(_once_each(smtp)) == 81


async def test_a_backlog_larger_than_a_batch_is_written_batch_by_batch_each_once(
    make_person: MakePerson, reminder_worker: Any, clock: Clock, backend: str
) -> None:
    # Given 7 overdue incidents, and a worker that reminds of 3 at a time
    manager, agent = await _many_due(make_person, 7)
    clock.now = datetime.now(UTC)
    worker = reminder_worker(digest_hour=23, reminder_batch_size=3)

    # When it looks for reminders
    with statements() as sql:
        written = await worker.queue_reminders()

    # Then each incident is reminded of once, to its assignee and the manager
    counts = await _reasons()
    incidents = [i.id for i in await Incident.all().order_by("id")]
    assert counts == Counter(
        {("OVERDUE", person.user.id, i): 1 for i in incidents for person in (agent, manager)}
    )
    assert written == 14
    # in three batches (3, 3 and 1 incidents), each read, then written with one insert
    unmarked = '"incident"."overdue_sent_for" IS NULL'
    reads = [s for s in sql if s.startswith("SELECT") and unmarked in s]
    assert len(reads) == 4  # the last one finds nothing more
    assert sum(1 for s in sql if s.startswith('INSERT INTO "outbox_message"')) == 3
    if backend == "postgres":
        # each in a transaction of its own, which marks its incidents and writes their rows
        rows = await connections.get("default").execute_query_dict(
            "SELECT i.id, i.xmin::text AS marked, o.xmin::text AS written FROM incident i"
            " JOIN outbox_message o ON o.incident_id = i.id ORDER BY i.id"
        )
        assert all(row["marked"] == row["written"] for row in rows)
        by_incident = {row["id"]: row["marked"] for row in rows}
        transactions = [by_incident[i] for i in incidents]
        assert [len(set(transactions[n : n + 3])) for n in (0, 3, 6)] == [1, 1, 1]
        assert len(set(transactions)) == 3

    # and looking again writes nothing more
    clock.advance(minutes=5)
    assert await worker.queue_reminders() == 0
    assert await _reasons() == counts


async def test_a_backlog_older_than_the_catch_up_time_goes_to_the_digest_not_one_by_one(
    make_person: MakePerson, reminder_worker: Any, clock: Clock
) -> None:
    # Given an incident overdue for three days (missed while no worker ran) and one for an hour
    manager = await _person(make_person, Role.MANAGER)
    agent = await _person(make_person, Role.AGENT)
    reported = {}
    for name, due in (("Long late", WEDNESDAY - timedelta(days=3)), ("Just late", WEDNESDAY)):
        incident = await service.report_incident(
            actor=manager.user,
            description=name,
            changes=IncidentChanges(assigned_to_id=agent.user.id, due_date=due),
        )
        reported[name] = incident.id
    await OutboxMessage.all().delete()
    clock.now = WEDNESDAY + timedelta(hours=1)

    # When the worker looks, with the default catch-up time of a day
    await reminder_worker(digest_hour=0).drain()

    # Then only the one late for an hour is emailed as overdue
    counts = await _reasons()
    assert {(reason, user, i) for reason, user, i in counts if reason == "OVERDUE"} == {
        ("OVERDUE", agent.user.id, reported["Just late"]),
        ("OVERDUE", manager.user.id, reported["Just late"]),
    }
    # and the manager's digest counts and lists both
    (digest,) = await OutboxMessage.filter(reason=NoticeReason.DIGEST)
    payload: dict[str, Any] = digest.payload
    assert payload["overdue_count"] == 2
    assert [i["summary"] for i in payload["overdue"]] == ["Long late", "Just late"]

    # When the catch-up time is longer than the outage
    clock.advance(minutes=5)
    await reminder_worker(digest_hour=0, reminder_catch_up_hours=24 * 4).drain()
    # Then the older one is emailed too, once
    assert (await _reasons())[("OVERDUE", agent.user.id, reported["Long late"])] == 1
