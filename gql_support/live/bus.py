"""An in-process event bus: every subscriber gets every committed change, in commit order.

Publishing happens after the transaction commits, so a rolled-back change is never seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

#: How many changes a subscriber may fall behind before it is dropped.
QUEUE_SIZE = 1_000


class UpdateKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    COMMENTED = "COMMENTED"


@dataclass(frozen=True, kw_only=True)
class IncidentChanged:
    incident_id: int
    kind: UpdateKind
    event_ids: tuple[int, ...]


class SubscriberTooSlow(Exception):
    """The subscriber fell more than QUEUE_SIZE changes behind."""


_subscribers: set[asyncio.Queue[IncidentChanged | None]] = set()


def publish(change: IncidentChanged) -> None:
    """Hands a committed change to every subscriber of this process."""
    for queue in list(_subscribers):
        try:
            queue.put_nowait(change)
        except asyncio.QueueFull:
            _subscribers.discard(queue)
            queue.get_nowait()
            queue.put_nowait(None)


@asynccontextmanager
async def subscribe() -> AsyncIterator[AsyncIterator[IncidentChanged]]:
    """Yields the stream of changes committed from now on."""
    queue: asyncio.Queue[IncidentChanged | None] = asyncio.Queue(QUEUE_SIZE)
    _subscribers.add(queue)

    async def stream() -> AsyncIterator[IncidentChanged]:
        while True:
            change = await queue.get()
            if change is None:
                raise SubscriberTooSlow("too many changes waiting: reconnect and reload")
            yield change

    try:
        yield stream()
    finally:
        _subscribers.discard(queue)
