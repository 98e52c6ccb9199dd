"""Delivery: the outbox survives SMTP outages, refusals, rollbacks and crashed workers."""

from __future__ import annotations

import asyncio
import signal
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from gql_support import db
from gql_support.accounts.models import Role
from gql_support.api.app import create_app, outbox_sender
from gql_support.api.ids import to_global_id
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.notify.models import OutboxMessage, OutboxStatus
from gql_support.notify.worker import OutboxWorker, retry_delay
from gql_support.settings import Settings
from tests.api.test_database_outage import Relay
from tests.conftest import GraphQLClient, MakePerson, Person, start_cli
from tests.notify.conftest import Clock, MakeWorker, SmtpServer

COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) { incident { version } errors { code message } }
}
"""
SAVE = """
mutation Save($input: SaveIncidentInput!) {
  saveIncident(input: $input) { incident { version } errors { code message field } }
}
"""


async def _incident_with_people(
    make_person: MakePerson, watchers: int = 0
) -> tuple[int, Person, list[Person]]:
    """An incident reported by a user and watched by ``watchers`` others; outbox emptied."""
    reporter = await make_person(Role.USER)
    others = [await make_person(Role.USER) for _ in range(watchers)]
    incident = await service.report_incident(
        actor=reporter.user,
        description="Nightly export fails",
        changes=IncidentChanges(watcher_ids=[p.user.id for p in others]),
    )
    await OutboxMessage.all().delete()
    return incident.id, reporter, others


async def _cli_output(settings: Settings, *args: str) -> str:
    process = await start_cli(settings, *args)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_smtp_down_during_a_change_then_the_email_arrives_once_it_is_back(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given an incident with a watcher, and the SMTP server down
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    smtp.stop()

    # When the reporter comments: the mutation succeeds all the same
    data = await gql.execute(
        COMMENT,
        {"input": {"incidentId": to_global_id("Incident", incident_id), "body": "Still failing"}},
        as_=reporter,
    )
    assert data["addComment"]["errors"] == []

    # And the sender tries: nothing is lost, the row waits for its retry with the error
    clock = Clock()
    assert await make_worker(clock).drain() == 0
    row = await OutboxMessage.get(to_address=watcher.user.email)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.last_error
    assert row.next_attempt_at > clock.now

    # When the server is back, nothing goes before the retry time, then it goes exactly once
    smtp.start()
    assert await make_worker(clock).drain() == 0
    clock.advance(hours=2)
    assert await make_worker(clock).drain() == 1
    assert await make_worker(clock).drain() == 0
    assert smtp.inbox.addresses() == [watcher.user.email]
    row = await OutboxMessage.get(id=row.id)
    assert row.status == OutboxStatus.SENT
    assert row.last_error is None
    assert row.lease_until is None
    assert row.sent_at == clock.now


async def test_a_rolled_back_change_queues_nothing(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given an incident with a watcher
    incident_id, reporter, _ = await _incident_with_people(make_person, watchers=1)

    # When a comment is written in a transaction that then fails
    async def comment_then_fail() -> None:
        async with in_transaction():
            await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Hi")
            assert await OutboxMessage.all().count() == 1
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await comment_then_fail()
    # Then nothing is queued
    assert await OutboxMessage.all().count() == 0

    # And a Save/Send refused half-way (the reporter may not set a due date) queues nothing
    data = await gql.execute(
        SAVE,
        {
            "input": {
                "incidentId": to_global_id("Incident", incident_id),
                "comment": "and a due date",
                "dueDate": "2030-01-01T00:00:00+00:00",
            }
        },
        as_=reporter,
    )
    assert data["saveIncident"]["errors"][0]["code"] == "FORBIDDEN"
    assert await OutboxMessage.all().count() == 0


async def test_one_refusal_does_not_stop_the_batch_and_permanent_ones_fail_at_once(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given five watchers, one of whom the server refuses for now, one for good
    incident_id, reporter, watchers = await _incident_with_people(make_person, watchers=5)
    later, never = watchers[1].user.email, watchers[3].user.email
    smtp.inbox.refuse = {later: "451 Try again later", never: "550 No such user"}

    # When a comment is sent
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Update")
    clock = Clock()
    assert await make_worker(clock).drain() == 3

    # Then the others got it over a fresh connection, the 451 waits, the 550 is FAILED
    assert smtp.inbox.addresses() == sorted(
        p.user.email for p in watchers if p.user.email not in {later, never}
    )
    waiting = await OutboxMessage.get(to_address=later)
    assert waiting.status == OutboxStatus.PENDING
    assert "451" in (waiting.last_error or "")
    failed = await OutboxMessage.get(to_address=never)
    assert failed.status == OutboxStatus.FAILED
    assert "550" in (failed.last_error or "")

    # When the server accepts again, the waiting one goes at its retry time
    smtp.inbox.refuse = {}
    clock.advance(hours=2)
    assert await make_worker(clock).drain() == 1
    assert smtp.inbox.addresses().count(later) == 1


async def test_after_the_last_attempt_a_row_is_failed_listed_and_can_be_retried(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker, mail_settings: Settings
) -> None:
    # Given a server that keeps answering "try later", and two attempts allowed
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    smtp.inbox.refuse = {watcher.user.email: "452 Mailbox full"}
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Hello")
    clock = Clock()

    # When the worker tries twice
    for _ in range(2):
        assert await make_worker(clock, outbox_max_attempts=2).drain() == 0
        clock.advance(hours=2)

    # Then the row is FAILED, and listed as such
    row = await OutboxMessage.get(to_address=watcher.user.email)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    listing = await _cli_output(mail_settings, "outbox", "list", "--status", "FAILED")
    assert f"{row.id}\tFAILED\t2\t" in listing
    assert "452 Mailbox full" in listing

    # When the server accepts again and the failed rows are retried from the command line
    smtp.inbox.refuse = {}
    assert "1 message(s) queued again" in await _cli_output(
        mail_settings, "outbox", "retry", "--failed"
    )
    assert await make_worker().drain() == 1
    assert smtp.inbox.addresses() == [watcher.user.email]

    # And a sent message can be retried by id: it goes again, recognisably the same
    await _cli_output(mail_settings, "outbox", "retry", str(row.id))
    assert await make_worker().drain() == 1
    first, second = smtp.inbox.received
    assert first.message["Message-ID"] == second.message["Message-ID"]


async def test_starttls_asked_for_is_never_skipped(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given an SMTP server that does not offer STARTTLS, and a URL that asks for it
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Secret")

    # When the worker sends
    url = f"smtp://127.0.0.1:{smtp.port}?starttls=true&timeout=5"
    assert await make_worker(smtp_url=url).drain() == 0

    # Then nothing went in clear: the row waits, saying why
    assert smtp.inbox.received == []
    row = await OutboxMessage.get(to_address=watcher.user.email)
    assert row.status == OutboxStatus.PENDING
    assert "STARTTLS" in (row.last_error or "")


async def test_a_worker_killed_mid_batch_loses_nothing(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker, mail_settings: Settings
) -> None:
    # Given twenty queued emails and a slow SMTP server
    incident_id, reporter, watchers = await _incident_with_people(make_person, watchers=20)
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Everyone")
    smtp.inbox.delay = 0.05

    # When a worker process is killed after sending a few of its batch
    process = await start_cli(mail_settings, "worker", GQL_SUPPORT_OUTBOX_LEASE_SECONDS="60")
    for _ in range(200):
        if len(smtp.inbox.received) >= 3:
            break
        await asyncio.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    killed_after = len(smtp.inbox.received)
    assert 3 <= killed_after < 20

    # Then, once its lease has run out, another worker sends everything it had claimed
    smtp.inbox.delay = 0
    clock = Clock()
    assert await make_worker(clock).drain() == 0  # still leased to the dead worker
    clock.advance(seconds=61)
    await make_worker(clock).drain()
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 20
    ids = {str(r.message["Message-ID"]) for r in smtp.inbox.received}
    assert len(ids) == 20
    assert set(smtp.inbox.addresses()) == {p.user.email for p in watchers}


async def test_the_sender_in_serve_sends_on_commit_and_stops_cleanly(
    make_person: MakePerson, smtp: SmtpServer, mail_settings: Settings
) -> None:
    # Given the sender serve runs, polling only once a minute
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    settings = mail_settings.model_copy(update={"outbox_poll_seconds": 60})
    async with outbox_sender(settings) as sender:
        # When a change is committed
        await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Now")
        # Then its email goes at once, woken by the commit
        for _ in range(100):
            if smtp.inbox.received:
                break
            await asyncio.sleep(0.05)
        assert smtp.inbox.addresses() == [watcher.user.email]
    # And leaving stops it
    assert sender.stopping.is_set()


async def test_without_an_smtp_url_messages_are_written_as_eml_files(
    make_person: MakePerson, settings: Settings, tmp_path: Path
) -> None:
    # Given no SMTP server configured
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    mail_dir = tmp_path / "mail"
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Offline")

    # When the worker drains
    worker = OutboxWorker(settings.model_copy(update={"smtp_url": "", "mail_dir": str(mail_dir)}))
    assert await worker.drain() == 1

    # Then the email is an .eml file one can open
    (path,) = mail_dir.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == watcher.user.email
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "Offline" in plain.get_content()


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    import random

    rng = random.Random(7)
    delays = [retry_delay(n, base=30, cap=3600, rng=rng) for n in range(1, 11)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(3600, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 3600


async def test_the_app_lifespan_runs_the_sender_unless_told_not_to(
    make_person: MakePerson, smtp: SmtpServer, mail_settings: Settings
) -> None:
    # Given the app as serve runs it, with its own database registration and sender
    incident_id, reporter, (watcher,) = await _incident_with_people(make_person, watchers=1)
    app = create_app(mail_settings.model_copy(update={"outbox_poll_seconds": 60}))
    async with app.router.lifespan_context(app):
        # When a change is committed, its email goes without waiting for the poll
        await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Served")
        for _ in range(100):
            if smtp.inbox.received:
                break
            await asyncio.sleep(0.05)
    assert smtp.inbox.addresses() == [watcher.user.email]

    # And with the sender turned off (a separate worker runs), the app sends nothing
    await db.open_database(mail_settings)
    app = create_app(mail_settings.model_copy(update={"outbox_in_serve": False}))
    async with app.router.lifespan_context(app):
        await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Quiet")
        assert "outbox-sender" not in {task.get_name() for task in asyncio.all_tasks()}
    await db.open_database(mail_settings)
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).count() == 1
    assert len(smtp.inbox.received) == 1
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).count() == 1


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_claim_whose_answer_was_cut_off_is_handed_back_at_the_next_drain(
    make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker, settings: Settings
) -> None:
    # Given a queued email, and a worker reaching PostgreSQL through a relay
    incident_id, reporter, [watcher] = await _incident_with_people(make_person, watchers=1)
    await service.add_comment(actor=reporter.user, incident_id=incident_id, body="Hello")
    parts = urlsplit(settings.database_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    await db.close_database()
    through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl()
    await db.open_database(settings.model_copy(update={"database_url": through}))
    try:
        worker = make_worker()
        # When its claim reaches PostgreSQL (and leases the row) but the answer never comes
        relay.cut_after = worker.name.encode()
        with pytest.raises(asyncpg.PostgresConnectionError):
            await worker.drain()
        assert await OutboxMessage.filter(claimed_by=worker.name).count() == 1

        # Then its next drain sends it, without waiting out the lease (300 s)
        assert await worker.drain() == 1
        assert smtp.inbox.addresses() == [watcher.user.email]
        row = await OutboxMessage.get()
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    finally:
        await relay.cut()
