"""The one place configuration is read: ``GQL_SUPPORT_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "GQL_SUPPORT_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the server can be told from outside, with the embedded defaults."""

    database_url: str = "sqlite://var/gql-support.sqlite3"
    debug: bool = False
    graphiql: bool = True
    demo_data: bool = True
    #: Where email goes: smtp://[user:pass@]host[:port][?starttls=true&timeout=S] or smtps://...
    #: Empty means no SMTP server: each message is written as an .eml file under ``mail_dir``.
    smtp_url: str = ""
    mail_from: str = "gql-support <noreply@gql-support.invalid>"
    mail_dir: str = "var/mail"
    #: The address people open, for links in email (an incident is ``/incidents/<number>``).
    public_url: str = "http://127.0.0.1:8000"
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

        def number(name: str, default: float, minimum: float) -> float:
            value = environ.get(PREFIX + name)
            if value is None:
                return default
            try:
                parsed = float(value)
            except ValueError:
                raise ValueError(f"{PREFIX}{name} must be a number, not {value!r}") from None
            if not parsed >= minimum:
                raise ValueError(f"{PREFIX}{name} must be at least {minimum}, not {value!r}")
            return parsed

        def text(name: str, default: str) -> str:
            return environ.get(PREFIX + name, default)

        return cls(
            database_url=text("DATABASE_URL", defaults.database_url),
            debug=flag("DEBUG", defaults.debug),
            graphiql=flag("GRAPHIQL", defaults.graphiql),
            demo_data=flag("DEMO_DATA", defaults.demo_data),
            smtp_url=text("SMTP_URL", defaults.smtp_url),
            mail_from=text("MAIL_FROM", defaults.mail_from),
            mail_dir=text("MAIL_DIR", defaults.mail_dir),
            public_url=text("PUBLIC_URL", defaults.public_url).rstrip("/"),
            outbox_in_serve=flag("OUTBOX_IN_SERVE", defaults.outbox_in_serve),
            outbox_batch_size=int(number("OUTBOX_BATCH_SIZE", defaults.outbox_batch_size, 1)),
            outbox_poll_seconds=number("OUTBOX_POLL_SECONDS", defaults.outbox_poll_seconds, 0.01),
            outbox_lease_seconds=number("OUTBOX_LEASE_SECONDS", defaults.outbox_lease_seconds, 1),
            outbox_max_attempts=int(number("OUTBOX_MAX_ATTEMPTS", defaults.outbox_max_attempts, 1)),
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
