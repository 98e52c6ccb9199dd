"""Looking at the outbox and sending FAILED rows again, for ``gql-support outbox``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.functions import Count, Min

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


async def due_backlog(*, now: datetime | None = None) -> tuple[int, datetime | None]:
    """How many PENDING rows are due, and the earliest time one of them fell due (None when
    none is): one read over the (status, next_attempt_at) index."""
    now = now or datetime.now(UTC)
    row = (
        await OutboxMessage.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .annotate(due=Count("id"), oldest=Min("next_attempt_at"))
        .first()
        .values("due", "oldest")
    )
    if row is None:
        return 0, None
    oldest = row["oldest"]
    if isinstance(oldest, str):  # SQLite returns an aggregate's time as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(row["due"] or 0), oldest
