"""The sender: claims due outbox rows, sends them, and records what happened.

A claim is a lease: the worker sets ``lease_until`` and ``claimed_by`` on a batch of due rows
(on PostgreSQL under ``SELECT … FOR UPDATE SKIP LOCKED``, so several workers take different
rows), sends them over one connection, then marks the batch SENT in one statement. A worker
that dies mid-batch leaves its rows leased; when the lease ends another worker sends them
again, with the same Message-ID, so nothing is lost and a resend is recognisable. A claim whose
answer never came (the database went away after running it) may have leased rows the worker
never saw: before its next drain, with nothing in hand, the worker hands back every row still
leased to it, rather than leaving them to wait out the lease.

A failed send is retried after an exponential, capped, jittered delay; after
``outbox_max_attempts`` tries (or at once, on a permanent 5xx refusal) the row is FAILED.

Before it drains, at most every ``reminder_check_seconds`` of its clock, a worker given
``reminders`` (``gql_support.incidents.reminders.queue_due``) has the reminders and digests
due by then written to the outbox, so they go out with the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiosmtplib
from tortoise import connections
from tortoise.expressions import F

from gql_support import logs, metrics
from gql_support.accounts.reset import ResetSigner
from gql_support.attachments.service import AttachmentStore
from gql_support.live import bus
from gql_support.notify.messages import Email, Notice, Renderer, Sender
from gql_support.notify.models import NoticeReason, OutboxMessage, OutboxStatus
from gql_support.notify.transport import Mailer, mailer_for
from gql_support.settings import DEFAULT_PUBLIC_URL, Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Writes the reminders due at a moment to the outbox; returns how many rows it wrote.
Reminders = Callable[[datetime], Awaitable[int]]
_jitter = random.Random()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def retry_delay(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``attempts``-th failed try: base·2^(n-1), capped, then
    jittered down by up to half so that rows failed together do not retry together."""
    ceiling = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return ceiling * (rng or _jitter).uniform(0.5, 1.0)


def is_permanent(error: BaseException) -> bool:
    """A 5xx refusal of this message, or a message that cannot be built: trying again would
    not help."""
    if isinstance(error, RenderError):
        return True
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in error.recipients)
    if isinstance(error, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
        return 500 <= error.code < 600
    return False


def describe(error: BaseException) -> str:
    """The error as ``outbox list`` shows it: the server's own code and words when it gave any."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        text = ", ".join(f"{r.code} {r.message} ({r.recipient})" for r in error.recipients)
    elif isinstance(error, aiosmtplib.SMTPResponseException):
        text = f"{error.code} {error.message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())[:2000]


def is_about_message(error: BaseException) -> bool:
    """The server refused this message (or it could not be rendered), not mail in general."""
    return isinstance(
        error,
        aiosmtplib.SMTPRecipientsRefused
        | aiosmtplib.SMTPSenderRefused
        | aiosmtplib.SMTPDataError
        | RenderError,
    )


class RenderError(Exception):
    """The message could not be built from its row: a bug, kept as the row's error."""


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """An outbox row this worker holds the lease of, with the notice to render."""

    id: int
    attempts: int
    lease_until: datetime
    to_address: str
    notice: Notice


@dataclass
class _Outcome:
    """What became of a claimed batch, filled in as it is sent."""

    unsent: list[Claimed]
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[Claimed, BaseException]] = field(default_factory=list)


class OutboxWorker:
    """Drains the outbox; several may run at once, in one process or many."""

    def __init__(
        self,
        settings: Settings,
        *,
        mailer: Mailer | None = None,
        clock: Clock = _utcnow,
        reminders: Reminders | None = None,
    ) -> None:
        self.settings = settings
        self.mailer = mailer or mailer_for(settings.smtp_url, settings.mail_dir)
        base_url = settings.public_url or DEFAULT_PUBLIC_URL
        store = AttachmentStore.from_settings(settings)
        self.sender = Sender(
            mail_from=settings.mail_from,
            public_url=base_url,
            # A download link for one file, signed for the one recipient (no token needed).
            file_link=lambda file_id, user_id: store.download_url_by_id(
                file_id, user_id=user_id, base_url=base_url
            ),
            reset_link=partial(
                ResetSigner(secret_key=settings.secret_key.get_secret_value()).link, base_url
            ),
        )
        self.renderer = Renderer(self.sender)
        self.clock = clock
        self.reminders = reminders
        self._reminders_next: datetime | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]
        self.stopping = asyncio.Event()
        #: A claim failed: rows may be leased to this worker that it never received.
        self._claim_lost = False

    async def queue_reminders(self) -> int:
        """Has the reminders due by now written to the outbox, if it is time to look again;
        returns how many rows that made. A failure is logged: email goes on meanwhile."""
        now = self.clock()
        if self.reminders is None or (
            self._reminders_next is not None and now < self._reminders_next
        ):
            return 0
        self._reminders_next = now + timedelta(seconds=self.settings.reminder_check_seconds)
        try:
            return await self.reminders(now)
        except Exception as error:
            logs.failure(log, error, "writing the due reminders failed; trying again later")
            return 0

    async def claim(self) -> list[Claimed]:
        """Leases a batch of due rows to this worker and returns them, oldest first.

        One ``UPDATE … RETURNING`` statement, atomic on its own: on PostgreSQL its subquery
        locks the rows it picks and skips those another worker holds; on SQLite the database
        lock serialises writers.
        """
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.outbox_lease_seconds)
        try:
            values = await _execute(
                _CLAIM,
                [
                    lease,
                    self.name,
                    OutboxStatus.PENDING.value,
                    now,
                    self.settings.outbox_batch_size,
                ],
            )
        except BaseException:
            self._claim_lost = True
            raise
        # The rows of one change carry the same payload: decode it once, and let the renderer
        # see that they share it.
        payloads: dict[str, dict[str, Any]] = {}
        claimed = [_claimed(row, lease, payloads) for row in values]
        return sorted(claimed, key=lambda row: row.id)

    async def send_batch(self, rows: list[Claimed]) -> int:
        """Sends claimed rows and records the outcome; returns how many were sent. The caller
        closes the mailer."""
        outcome = _Outcome(unsent=list(rows))
        try:
            await self._send(outcome)
        finally:
            await self._record(outcome)
        return len(outcome.sent)

    async def _send(self, outcome: _Outcome) -> None:
        """Sends the outcome's unsent rows in order, moving each to sent or failed, without
        touching the database (so the next claim can run meanwhile)."""
        margin = timedelta(seconds=self.settings.outbox_lease_seconds / 10)
        unsent = outcome.unsent
        # The whole batch first: rendering costs the sender a third as much in one run as
        # it does between sends, where the processor has gone cold waiting for the server.
        emails = deque(self._render(row) for row in unsent)
        while unsent:
            row = unsent[0]
            if self.stopping.is_set() or self.clock() > row.lease_until - margin:
                # Out of time or asked to stop: leave the rest to the next claim.
                return
            email = emails.popleft()
            unsent.pop(0)
            try:
                if isinstance(email, RenderError):
                    raise email
                await self.mailer.send(email, sender=self.sender.address, recipient=row.to_address)
            except (aiosmtplib.SMTPException, OSError, TimeoutError, RenderError) as error:
                outcome.failed.append((row, error))
                if not is_about_message(error):
                    # The server is not taking mail: let the rest wait for their retry.
                    outcome.failed.extend((other, error) for other in unsent)
                    unsent.clear()
            else:
                outcome.sent.append(row.id)

    async def _record(self, outcome: _Outcome) -> None:
        """Writes what happened to a batch: SENT in one statement, retries, releases."""
        if outcome.sent:
            await _execute(
                _SENT, [OutboxStatus.SENT.value, self.clock(), self.name], ids=outcome.sent
            )
            metrics.OUTBOX_SENT.inc(len(outcome.sent))
        for row, error in outcome.failed:
            await self._failed(row, error)
        if outcome.unsent:
            await self._release(outcome.unsent)

    async def _record_and_claim(self, outcome: _Outcome | None) -> list[Claimed]:
        if outcome is not None:
            await self._record(outcome)
        return await self.claim()

    def _render(self, row: Claimed) -> Email | RenderError:
        try:
            return self.renderer.render(row.notice)
        except Exception as error:
            log.exception("outbox message %s cannot be rendered", row.id)
            return RenderError(f"{type(error).__name__}: {error}")

    async def drain(self) -> int:
        """Sends batches until no row is due (or a whole batch failed); returns how many.

        The database work of a batch (recording the previous one, claiming the next) runs
        while the batch is being sent, so the SMTP connection is rarely idle.
        """
        total = 0
        previous: _Outcome | None = None
        current: _Outcome | None = None
        following: asyncio.Future[list[Claimed]] | None = None
        await self.queue_reminders()
        if self._claim_lost:
            await self._release_lost_claims()
        try:
            rows = await self.claim()
            while rows and not self.stopping.is_set():
                current = _Outcome(unsent=rows)
                following = asyncio.ensure_future(self._record_and_claim(previous))
                previous = None
                await self._send(current)
                rows = await following
                following = None
                total += len(current.sent)
                previous, current = current, None
                if not previous.sent:
                    break
            if rows:
                await self._release(rows)
        finally:
            if following is not None:
                # Interrupted mid-batch: hand back the batch claimed ahead, if it was.
                try:
                    rows = await following
                except Exception as error:
                    logs.failure(log, error, "outbox claim failed")
                    rows = []
                if rows:
                    await self._release(rows)
            for outcome in (previous, current):
                if outcome is not None:
                    await self._record(outcome)
            # One connection serves every batch of a drain, and is not held between drains.
            await self.mailer.close()
        return total

    async def run(self, wake: asyncio.Event | None = None) -> None:
        """Drains, then sleeps until woken or the poll interval passes, until ``stop``."""
        wake = wake or asyncio.Event()
        while not self.stopping.is_set():
            wake.clear()
            try:
                await self.drain()
            except Exception as error:
                logs.failure(log, error, "outbox drain failed, retrying after the poll interval")
            waits = [
                asyncio.ensure_future(wake.wait()),
                asyncio.ensure_future(self.stopping.wait()),
            ]
            try:
                await asyncio.wait(
                    waits,
                    timeout=self.settings.outbox_poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiting in waits:
                    waiting.cancel()

    def stop(self) -> None:
        """Asks ``run`` to finish the message in hand and return; unsent rows are released."""
        self.stopping.set()

    async def _failed(self, row: Claimed, error: BaseException) -> None:
        text = describe(error)
        if is_permanent(error) or row.attempts >= self.settings.outbox_max_attempts:
            log.warning(
                "outbox message %s FAILED after %s attempt(s): %s", row.id, row.attempts, text
            )
            metrics.OUTBOX_FAILURES.labels("failed").inc()
            await OutboxMessage.filter(id=row.id, claimed_by=self.name).update(
                status=OutboxStatus.FAILED, lease_until=None, last_error=text
            )
            return
        metrics.OUTBOX_FAILURES.labels("retry").inc()
        delay = retry_delay(
            row.attempts,
            base=self.settings.outbox_retry_base_seconds,
            cap=self.settings.outbox_retry_max_seconds,
        )
        await OutboxMessage.filter(id=row.id, claimed_by=self.name).update(
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            lease_until=None,
            last_error=text,
        )

    async def _release_lost_claims(self) -> None:
        """Hands back every row still leased to this worker, between drains (so none is in
        hand), after a claim failed: it may have leased rows whose answer never came."""
        released = await OutboxMessage.filter(
            claimed_by=self.name, status=OutboxStatus.PENDING, lease_until__not_isnull=True
        ).update(lease_until=None, attempts=F("attempts") - 1)
        self._claim_lost = False
        if released:
            log.info("handed back %d outbox row(s) a failed claim had leased", released)

    async def _release(self, rows: list[Claimed]) -> None:
        """Hands back claimed rows not tried, without counting the try."""
        await OutboxMessage.filter(id__in=[r.id for r in rows], claimed_by=self.name).update(
            lease_until=None, attempts=F("attempts") - 1
        )


async def _execute(
    statement: str, params: Sequence[Any], ids: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Runs one of the statements below, which the sender runs thousands of times a minute
    and the query builder made cost more than sending the email (three statements and a
    model per claimed row). They are written for both databases: ``{p}1``, ``{p}2``… are the
    parameters (``$1`` on PostgreSQL, ``?1`` on SQLite), ``{ids}`` stands for ``ids``, and
    ``{lock}`` locks the rows a subquery picks, skipping those another worker holds, where
    the database can (SQLite lets one writer in at a time)."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    p = "$" if postgres else "?"
    first = len(params) + 1
    sql = statement.format(
        table=OutboxMessage._meta.db_table,
        p=p,
        lock="FOR UPDATE SKIP LOCKED" if postgres else "",
        ids=", ".join(f"{p}{n}" for n in range(first, first + len(ids))),
    )
    rows: list[dict[str, Any]] = await connection.execute_query_dict(sql, [*params, *ids])
    return rows


_CLAIM = """
UPDATE {table} SET lease_until = {p}1, claimed_by = {p}2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM {table}
    WHERE status = {p}3 AND next_attempt_at <= {p}4 AND (lease_until IS NULL OR lease_until < {p}4)
    ORDER BY id LIMIT {p}5 {lock}
)
RETURNING id, attempts, reason, to_address, to_name, locale, time_zone, payload, created_at,
    recipient_id
"""
_SENT = """
UPDATE {table} SET status = {p}1, sent_at = {p}2, lease_until = NULL, last_error = NULL
WHERE claimed_by = {p}3 AND id IN ({ids})
"""


def _claimed(
    values: dict[str, Any], lease_until: datetime, payloads: dict[str, dict[str, Any]]
) -> Claimed:
    """A claimed row from the database's own values: SQLite returns text for the JSON and
    the time, PostgreSQL (asyncpg) a ``str`` for JSONB and a ``datetime``. ``payloads`` holds
    the payloads decoded so far, by their text."""
    text, created_at = values["payload"], values["created_at"]
    payload = payloads.get(text)
    if payload is None:
        payload = payloads[text] = json.loads(text)
    return Claimed(
        id=values["id"],
        attempts=values["attempts"],
        lease_until=lease_until,
        to_address=values["to_address"],
        notice=Notice(
            id=values["id"],
            reason=NoticeReason(values["reason"]),
            to_address=values["to_address"],
            to_name=values["to_name"],
            locale=values["locale"],
            time_zone=values["time_zone"],
            payload=payload,
            created_at=datetime.fromisoformat(created_at)
            if isinstance(created_at, str)
            else created_at,
            recipient_id=values["recipient_id"],
        ),
    )


async def wake_on_commits(wake: asyncio.Event) -> None:
    """Sets ``wake`` after every committed change (the live bus delivers only committed ones,
    from every process), so the sender in ``serve`` sends at once instead of at the next poll."""
    while True:
        try:
            async with bus.current().hub.subscribe() as changes:
                while True:
                    await changes.next()
                    changes.pending()
                    wake.set()
        except bus.SubscriberTooSlow:
            wake.set()
