"""Subscription resolvers: live dashboards fed by the event bus after each commit.

Work is shared between subscribers: a change is read once for all of them (and its DataLoaders
shared), the search words of all their filters are matched against it in one batch, each
filter is judged once, and the figures of a dashboard filter are computed once per burst for
all its subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from gql_support.api.context import Info
from gql_support.api.dataloaders import Loaders
from gql_support.api.errors import IsAuthenticated
from gql_support.api.inputs import IncidentFilter
from gql_support.api.types import Dashboard, Incident, IncidentEvent
from gql_support.db import is_unavailable
from gql_support.incidents import filters, queries
from gql_support.live import bus
from gql_support.live.models import UpdateKind

strawberry.enum(UpdateKind, name="IncidentUpdateKind")

#: How long a subscription waits for an unreachable database before it says it fell behind.
READ_RETRY_SECONDS = 30.0
#: A burst of changes within this many seconds moves a dashboard once.
COALESCE_SECONDS = 0.2
#: How many changes a subscription reads ahead of the one it is sending.
READ_AHEAD = 8


@strawberry.type(description="What a live dashboard receives when an incident it can see changes.")
class IncidentUpdate:
    kind: UpdateKind
    incident: Incident
    events: list[IncidentEvent] = strawberry.field(
        description="The history entries that this change added."
    )


def _noted(task: asyncio.Future[Any]) -> None:
    """Marks a read's failure as seen: a read started ahead may end unawaited (its subscriber
    left), and its failure is raised, and handled, where it is awaited."""
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True)
class _Seen:
    seen: queries.ChangeSeen
    loaders: Loaders


class _ChangeReads:
    """One change as every subscriber sees it: the change and its incident read once, the
    words of all their filters searched in one batch, and each filter's verdict made once."""

    def __init__(self, change_id: int) -> None:
        self.live = asyncio.ensure_future(queries.read_change(change_id))
        self.live.add_done_callback(_noted)
        self.searches: DataLoader[str, queries.SearchHit] = DataLoader(load_fn=self._search)
        self.loaders = Loaders()
        self.verdicts: dict[str, asyncio.Task[_Seen | None]] = {}

    async def _search(self, words: list[str]) -> list[queries.SearchHit]:
        live = await self.live
        assert live is not None, "searched only for a change that was read"
        return await queries.search_change(live, words)

    def verdict(self, f: filters.IncidentFilter | None) -> asyncio.Task[_Seen | None]:
        key = repr(f)
        task = self.verdicts.get(key)
        if task is None:
            task = self.verdicts[key] = asyncio.ensure_future(self._judge(f))
            task.add_done_callback(_noted)
        return task

    async def _judge(self, f: filters.IncidentFilter | None) -> _Seen | None:
        live = await self.live
        if live is None:
            return None
        seen = await queries.change_for_filter(live, f, search=self.searches.load_many)
        return None if seen is None else _Seen(seen, self.loaders)


class _SharedReads:
    """The reads for each change, made once for every subscriber that needs them."""

    def __init__(self) -> None:
        self._changes: OrderedDict[int, _ChangeReads] = OrderedDict()

    def get(self, change_id: int, f: filters.IncidentFilter | None) -> asyncio.Task[_Seen | None]:
        reads = self._changes.get(change_id)
        if reads is None:
            reads = self._changes[change_id] = _ChangeReads(change_id)
            while len(self._changes) > 1_000:
                self._changes.popitem(last=False)
        return reads.verdict(f)

    def forget(self, change_id: int) -> None:
        """Drops a change's reads (they failed), so that the next ``get`` reads it again."""
        self._changes.pop(change_id, None)

    async def read(self, change_id: int, f: filters.IncidentFilter | None) -> _Seen | None:
        """The change as the filter sees it. While the database is out of reach (restarting),
        reads it again: once committed, it is there when the database is back. Past
        ``READ_RETRY_SECONDS`` the subscriber is told it fell behind, as when it lags."""
        deadline = asyncio.get_running_loop().time() + READ_RETRY_SECONDS
        pause = 0.1
        while True:
            try:
                return await self.get(change_id, f)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                self.forget(change_id)
                if asyncio.get_running_loop().time() > deadline:
                    raise bus.SubscriberTooSlow("the database was out of reach") from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


class _DashboardFeed:
    """The figures of one dashboard filter, recomputed once per burst of changes."""

    def __init__(self, f: filters.IncidentFilter | None) -> None:
        self.filter = f
        self.figures: queries.DashboardFigures | None = None
        self.listeners: set[asyncio.Queue[queries.DashboardFigures]] = set()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with bus.current().hub.subscribe() as feed:
            self.figures = await queries.dashboard(incident_filter=self.filter)
            self.ready.set()
            while True:
                await feed.next()
                await asyncio.sleep(COALESCE_SECONDS)
                feed.pending()
                latest = await queries.dashboard(incident_filter=self.filter)
                if latest != self.figures:
                    self.figures = latest
                    for queue in self.listeners:
                        if queue.full():
                            queue.get_nowait()
                        queue.put_nowait(latest)


def _reads() -> _SharedReads:
    shared = bus.current().hub.shared
    reads = shared.get("reads")
    if reads is None:
        reads = shared["reads"] = _SharedReads()
    assert isinstance(reads, _SharedReads)
    return reads


@contextlib.asynccontextmanager
async def _dashboard_listener(
    f: filters.IncidentFilter | None,
) -> AsyncIterator[tuple[_DashboardFeed, asyncio.Queue[queries.DashboardFigures]]]:
    key = repr(f)
    dashboards: dict[str, _DashboardFeed] = bus.current().hub.shared.setdefault("dashboards", {})
    shared = dashboards.get(key)
    if shared is None:
        shared = dashboards[key] = _DashboardFeed(f)
        shared.task = asyncio.create_task(shared.run())
    queue: asyncio.Queue[queries.DashboardFigures] = asyncio.Queue(1)
    shared.listeners.add(queue)
    try:
        yield shared, queue
    finally:
        shared.listeners.discard(queue)
        if not shared.listeners and shared.task is not None:
            del dashboards[key]
            shared.task.cancel()


def _domain_filter(incident_filter: IncidentFilter | None) -> filters.IncidentFilter | None:
    return None if incident_filter is None else incident_filter.to_domain()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Every committed change to an incident matching the filter, in commit order "
        "per incident.",
    )
    async def incident_updates(
        self, info: Info, filter: IncidentFilter | None = None
    ) -> AsyncGenerator[IncidentUpdate, None]:
        domain_filter = _domain_filter(filter)
        viewer = info.context.viewer
        assert viewer is not None, "guarded by IsAuthenticated"
        reads = _reads()
        # The changes taken from the feed, oldest first, whose reads have been started: under
        # a burst the next ones are read while this one is sent, instead of one round trip
        # after another, which let a busy desk's subscriptions lag until they were dropped.
        ahead: deque[int] = deque()
        async with bus.current().hub.subscribe() as feed:
            while True:
                if not ahead:
                    # Too far behind: SubscriberTooSlow ends the subscription (code 4008 over
                    # WebSocket, where the shared execution also re-checks each viewer per
                    # event).
                    ahead.append(await feed.next())
                for change_id in feed.pending(READ_AHEAD - len(ahead)):
                    ahead.append(change_id)
                    reads.get(change_id, domain_filter)
                shared = await reads.read(ahead.popleft(), domain_filter)
                if shared is None:
                    continue
                if not isinstance(info.context.request, WebSocket):
                    # Permissions are re-checked per event: a deactivated viewer hears no more.
                    user = await shared.loaders.user_by_id.load(viewer.id)
                    if user is None or not user["is_active"]:
                        return
                info.context.loaders = shared.loaders
                seen = shared.seen
                yield IncidentUpdate(
                    kind=seen.change.kind,
                    incident=Incident.from_model(seen.incident, shared.loaders),
                    events=[IncidentEvent.from_model(e) for e in seen.events],
                )

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The dashboard figures, sent once on subscribing and again after each "
        "change that moves them.",
    )
    async def dashboard_updates(
        self, filter: IncidentFilter | None = None
    ) -> AsyncGenerator[Dashboard, None]:
        async with _dashboard_listener(_domain_filter(filter)) as (shared, queue):
            await shared.ready.wait()
            assert shared.figures is not None
            yield Dashboard.from_figures(shared.figures)
            while True:
                yield Dashboard.from_figures(await queue.get())
