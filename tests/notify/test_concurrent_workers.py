"""Several workers on one PostgreSQL outbox: SELECT … FOR UPDATE SKIP LOCKED gives each row
to one of them only. (SQLite has one writer at a time, so this module runs on PostgreSQL.)"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.notify.models import OutboxMessage, OutboxStatus
from gql_support.settings import Settings
from tests.conftest import MakePerson, start_cli
from tests.notify.conftest import MakeWorker, SmtpServer

WATCHERS = 30
COMMENTS = 10


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _queue(make_person: MakePerson) -> int:
    """Queues one email per watcher per comment; returns how many."""
    reporter = await make_person(Role.USER)
    watchers = [await make_person(Role.USER) for _ in range(WATCHERS)]
    incident = await service.report_incident(
        actor=reporter.user,
        description="Shared outage",
        changes=IncidentChanges(watcher_ids=[w.user.id for w in watchers]),
    )
    await OutboxMessage.all().delete()
    for i in range(COMMENTS):
        await service.add_comment(actor=reporter.user, incident_id=incident.id, body=f"Note {i}")
    return await OutboxMessage.all().count()


def _sent_once_each(smtp: SmtpServer, expected: int) -> None:
    counts = Counter(str(r.message["Message-ID"]) for r in smtp.inbox.received)
    assert len(counts) == expected
    assert set(counts.values()) == {1}


async def test_workers_in_one_process_never_send_a_row_twice(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given 300 queued emails and a server slow enough for the workers to overlap
    total = await _queue(make_person)
    smtp.inbox.delay = 0.002

    # When three workers drain at once, in small batches
    workers = [make_worker(outbox_batch_size=10) for _ in range(3)]
    sent = await asyncio.gather(*(w.drain() for w in workers))

    # Then every email went exactly once
    assert sum(sent) == total
    _sent_once_each(smtp, total)
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == total


async def test_a_second_worker_claims_other_rows_than_the_first(
    make_person: MakePerson, make_worker: MakeWorker
) -> None:
    # Given queued emails, a batch of which a first worker holds
    total = await _queue(make_person)
    first, second = make_worker(outbox_batch_size=10), make_worker(outbox_batch_size=10)
    held = {row.id for row in await first.claim()}
    # When a second worker claims while the first still holds its batch
    taken = {row.id for row in await second.claim()}
    # Then it gets a batch of its own, none of the first one's rows
    assert (len(held), len(taken)) == (10, 10)
    assert held.isdisjoint(taken)
    assert total >= 20


async def test_worker_processes_never_send_a_row_twice(
    make_person: MakePerson, smtp: SmtpServer, mail_settings: Settings
) -> None:
    # Given 300 queued emails
    total = await _queue(make_person)
    smtp.inbox.delay = 0.002

    # When two worker processes drain them at the same time
    processes = [
        await start_cli(mail_settings, "worker", "--once", GQL_SUPPORT_OUTBOX_BATCH_SIZE="10")
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    # Then each email went exactly once
    _sent_once_each(smtp, total)
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == total
