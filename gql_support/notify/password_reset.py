"""Queuing the password reset email: called by ``accounts.reset`` inside its transaction. The
row carries the reset's salt, not its link: the worker signs the link when it renders the
email (see ``accounts.reset``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gql_support.accounts.models import User
from gql_support.notify.models import NoticeReason, OutboxMessage


async def queue_reset_email(*, user: User, salt: str, lifetime: timedelta) -> None:
    """Writes the outbox row of a reset email, in the caller's transaction."""
    await OutboxMessage.create(
        recipient_id=user.id,
        reason=NoticeReason.PASSWORD_RESET,
        to_address=user.email,
        to_name=user.name,
        locale=user.locale,
        time_zone=user.time_zone,
        payload={"salt": salt, "minutes": round(lifetime.total_seconds() / 60)},
        next_attempt_at=datetime.now(UTC),
    )
