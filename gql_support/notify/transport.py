"""Where email goes: an SMTP server (aiosmtplib, one connection reused until an error), or,
with no SMTP URL, a folder of ``.eml`` files a newcomer can open.

``GQL_SUPPORT_SMTP_URL`` forms::

    smtp://host[:25]                       plain SMTP, no STARTTLS
    smtp://user:pass@host:587?starttls=true  STARTTLS required: fails if the server lacks it
    smtps://user:pass@host[:465]           TLS from the first byte
    ...?timeout=30                         seconds per SMTP command (default 30)
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from gql_support.notify.messages import Email

DEFAULT_TIMEOUT = 30.0


class MailerConfigError(ValueError):
    """GQL_SUPPORT_SMTP_URL cannot be understood."""


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None
    timeout: float


def parse_smtp_url(url: str) -> SmtpConfig:
    """Reads an smtp:// or smtps:// URL; anything unclear is refused rather than guessed."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise MailerConfigError(f"SMTP URL must start with smtp:// or smtps://, not {url!r}")
    if not parts.hostname:
        raise MailerConfigError("SMTP URL has no host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise MailerConfigError(f"unknown SMTP URL parameter(s): {', '.join(sorted(unknown))}")
    starttls = query.get("starttls", "false").lower()
    if starttls not in {"true", "false"}:
        raise MailerConfigError(f"starttls must be true or false, not {starttls!r}")
    use_tls = parts.scheme == "smtps"
    if use_tls and starttls == "true":
        raise MailerConfigError("smtps:// is TLS already: starttls=true does not apply")
    try:
        timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        raise MailerConfigError("timeout must be a number of seconds") from None
    return SmtpConfig(
        hostname=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        start_tls=starttls == "true",
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
        timeout=timeout,
    )


class Mailer(Protocol):
    """Sends messages one by one; ``close`` ends any connection it holds."""

    async def send(self, email: Email, *, sender: str, recipient: str) -> None: ...

    async def close(self) -> None: ...


class SmtpMailer:
    """One SMTP connection, opened on first use and reused; dropped after any error, so the
    next message starts on a fresh one."""

    def __init__(self, config: SmtpConfig, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.tls_context = tls_context
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is None or not self._smtp.is_connected:
            c = self.config
            smtp = aiosmtplib.SMTP(
                hostname=c.hostname,
                port=c.port,
                use_tls=c.use_tls,
                # False, not None: aiosmtplib would otherwise upgrade only when offered.
                start_tls=c.start_tls,
                username=c.username,
                password=c.password,
                timeout=c.timeout,
                tls_context=self.tls_context,
            )
            await smtp.connect()
            self._smtp = smtp
        return self._smtp

    async def send(self, email: Email, *, sender: str, recipient: str) -> None:
        try:
            smtp = await self._connection()
            await smtp.sendmail(sender, [recipient], email.data)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()


class DirectoryMailer:
    """Writes each message as ``<folder>/<Message-ID>.eml`` (atomically, so a reader never
    sees half a file); a resend overwrites the same file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, email: Email, *, sender: str, recipient: str) -> None:
        # In a thread: written in the event loop, a batch of files (a backlog of reminders)
        # held up every request of `serve` for as long as the disk took.
        await asyncio.to_thread(self._write, email)

    def _write(self, email: Email) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = email.message_id.strip("<>").replace("/", "_").replace("@", "_at_")
        path = self.folder / f"{name}.eml"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(email.data)
        os.replace(temporary, path)

    async def close(self) -> None:
        return None


def mailer_for(smtp_url: str, mail_dir: str) -> Mailer:
    """The mailer the settings ask for."""
    if smtp_url:
        return SmtpMailer(parse_smtp_url(smtp_url))
    return DirectoryMailer(Path(mail_dir))
