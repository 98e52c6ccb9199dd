"""Looking at the outbox and sending FAILED rows again, for ``gql-support outbox``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gql_support.errors import NotFound
from gql_support.notify.models import OutboxMessage, OutboxStatus


async def list_messages(
    *, status: OutboxStatus | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """The newest outbox rows, of one status if given."""
    query = OutboxMessage.all() if status is None else OutboxMessage.filter(status=status)
    return await query.order_by("-id").limit(limit)


async def retry_messages(*, ids: Sequence[int] = (), failed: bool = False) -> int:
    """Puts rows (by id, or every FAILED one) back in the queue with a fresh count of tries."""
    if failed:
        query = OutboxMessage.filter(status=OutboxStatus.FAILED)
    else:
        query = OutboxMessage.filter(id__in=list(ids))
        if await query.count() != len(set(ids)):
            raise NotFound("no outbox message with that id")
    return await query.update(
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        lease_until=None,
    )
