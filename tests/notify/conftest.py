"""A real SMTP server (aiosmtpd, in a thread of the test process) that keeps every message it
accepts, and an outbox worker pointed at it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gql_support.notify.worker import OutboxWorker
from gql_support.settings import Settings


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        assert len(self.recipients) == 1
        return self.recipients[0]

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None
        return str(body.get_content())


@dataclass
class Inbox:
    """What the SMTP server received, and the refusals to answer with."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before accepting each message, to catch a sender mid-batch.
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(
                Received(
                    sender=str(envelope.mail_from),
                    recipients=list(envelope.rcpt_tos),
                    message=message,
                )
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]

    def addresses(self) -> list[str]:
        return sorted(r.to for r in self.received)


class SmtpServer:
    """aiosmtpd on a fixed local port, which can be stopped and started again."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.inbox = Inbox()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


MakeWorker = Callable[..., OutboxWorker]


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": smtp.url,
            "mail_from": "Desk <desk@support.example.com>",
            "public_url": "https://desk.example.com",
        }
    )


@pytest.fixture
def make_worker(mail_settings: Settings) -> MakeWorker:
    """An outbox worker on the test's database and SMTP server; settings may be overridden."""

    def make(clock: Clock | None = None, **overrides: Any) -> OutboxWorker:
        settings = mail_settings.model_copy(update=overrides)
        return OutboxWorker(settings) if clock is None else OutboxWorker(settings, clock=clock)

    return make
