"""The one place configuration is read: ``GQL_SUPPORT_*`` environment variables."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

PREFIX = "GQL_SUPPORT_"
#: A number read from the environment: whole or not, as its default is.
N = TypeVar("N", int, float)
#: Where links in email point when GQL_SUPPORT_PUBLIC_URL is unset: what ``make run`` serves.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the server can be told from outside, with the embedded defaults."""

    database_url: str = "sqlite://var/gql-support.sqlite3"
    debug: bool = False
    graphiql: bool = True
    demo_data: bool = True
    #: Redis for the live-update bus; unset: PostgreSQL LISTEN/NOTIFY, or in-process on SQLite.
    redis_url: str | None = None
    #: Browser origins, besides the server's own, that may open a subscription WebSocket.
    allowed_origins: tuple[str, ...] = ()
    #: Where attached files live when no S3 bucket is set.
    attachments_dir: str = "var/attachments"
    #: An S3 (or S3-compatible) bucket for attachments, for deployments with several hosts.
    attachments_s3_bucket: str | None = None
    attachments_s3_endpoint_url: str | None = None
    attachments_s3_region: str | None = None
    attachments_s3_access_key_id: str | None = None
    attachments_s3_secret_access_key: str | None = field(default=None, repr=False)
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachments_per_request: int = 10
    #: Seconds a signed download link stays valid.
    attachment_link_ttl: int = 3600
    #: Signs download links; a random one (links die with the process) unless set.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: The server's address as users reach it, for links (an incident in email is
    #: ``/incidents/<number>``); unset: the request's own address, or ``DEFAULT_PUBLIC_URL``
    #: where there is no request (email).
    public_url: str | None = None
    #: Where email goes: smtp://[user:pass@]host[:port][?starttls=true&timeout=S] or smtps://...
    #: Empty means no SMTP server: each message is written as an .eml file under ``mail_dir``.
    smtp_url: str = ""
    mail_from: str = "gql-support <noreply@gql-support.invalid>"
    mail_dir: str = "var/mail"
    #: Whether ``serve`` drains the outbox itself (turn off when ``gql-support worker`` runs apart).
    outbox_in_serve: bool = True
    outbox_batch_size: int = 100
    outbox_poll_seconds: float = 5.0
    #: How long a worker owns the rows it claimed, after which another worker takes them over.
    outbox_lease_seconds: float = 300.0
    outbox_max_attempts: int = 10
    outbox_retry_base_seconds: float = 30.0
    outbox_retry_max_seconds: float = 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Reads the settings from ``GQL_SUPPORT_*`` variables; unset ones keep their default."""
        defaults = cls()

        def flag(name: str, default: bool) -> bool:
            value = environ.get(PREFIX + name)
            if value is None:
                return default
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"{PREFIX}{name} must be true or false, not {value!r}")

        def number(name: str, default: N, minimum: N, maximum: float = math.inf) -> N:
            """A number within bounds, whole when the default is."""
            value = environ.get(PREFIX + name)
            if value is None:
                return default
            try:
                parsed = type(default)(value)
            except ValueError:
                kind = "a whole number" if isinstance(default, int) else "a number"
                raise ValueError(f"{PREFIX}{name} must be {kind}, not {value!r}") from None
            if not minimum <= parsed <= maximum:
                most = f" and at most {maximum}" if maximum < math.inf else ""
                raise ValueError(f"{PREFIX}{name} must be at least {minimum}{most}, not {value!r}")
            return parsed

        def text(name: str) -> str | None:
            return environ.get(PREFIX + name) or None

        return cls(
            database_url=text("DATABASE_URL") or defaults.database_url,
            debug=flag("DEBUG", defaults.debug),
            graphiql=flag("GRAPHIQL", defaults.graphiql),
            demo_data=flag("DEMO_DATA", defaults.demo_data),
            redis_url=environ.get(PREFIX + "REDIS_URL") or None,
            allowed_origins=tuple(
                origin.strip()
                for origin in environ.get(PREFIX + "ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
            attachments_dir=text("ATTACHMENTS_DIR") or defaults.attachments_dir,
            attachments_s3_bucket=text("ATTACHMENTS_S3_BUCKET"),
            attachments_s3_endpoint_url=text("ATTACHMENTS_S3_ENDPOINT_URL"),
            attachments_s3_region=text("ATTACHMENTS_S3_REGION"),
            attachments_s3_access_key_id=text("ATTACHMENTS_S3_ACCESS_KEY_ID"),
            attachments_s3_secret_access_key=text("ATTACHMENTS_S3_SECRET_ACCESS_KEY"),
            attachment_max_bytes=number("ATTACHMENT_MAX_BYTES", defaults.attachment_max_bytes, 1),
            attachments_per_request=number(
                "ATTACHMENTS_PER_REQUEST", defaults.attachments_per_request, 1
            ),
            attachment_link_ttl=number("ATTACHMENT_LINK_TTL", defaults.attachment_link_ttl, 1),
            secret_key=text("SECRET_KEY") or defaults.secret_key,
            public_url=(text("PUBLIC_URL") or "").rstrip("/") or None,
            smtp_url=text("SMTP_URL") or defaults.smtp_url,
            mail_from=text("MAIL_FROM") or defaults.mail_from,
            mail_dir=text("MAIL_DIR") or defaults.mail_dir,
            outbox_in_serve=flag("OUTBOX_IN_SERVE", defaults.outbox_in_serve),
            # A batch's ids are one statement's parameters: both databases take up to 32,766.
            outbox_batch_size=number("OUTBOX_BATCH_SIZE", defaults.outbox_batch_size, 1, 10_000),
            outbox_poll_seconds=number("OUTBOX_POLL_SECONDS", defaults.outbox_poll_seconds, 0.01),
            outbox_lease_seconds=number("OUTBOX_LEASE_SECONDS", defaults.outbox_lease_seconds, 1),
            outbox_max_attempts=number("OUTBOX_MAX_ATTEMPTS", defaults.outbox_max_attempts, 1),
            outbox_retry_base_seconds=number(
                "OUTBOX_RETRY_BASE_SECONDS", defaults.outbox_retry_base_seconds, 0
            ),
            outbox_retry_max_seconds=number(
                "OUTBOX_RETRY_MAX_SECONDS", defaults.outbox_retry_max_seconds, 0
            ),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def sqlite_directory(self) -> Path | None:
        """The folder a SQLite file database lives in, so it can be created before use."""
        if not self.is_sqlite:
            return None
        path = self.database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path in {"", ":memory:"}:
            return None
        return Path(path).parent
