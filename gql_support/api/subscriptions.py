"""Subscription resolvers: live dashboards fed by the event bus after each commit.

Work is shared between subscribers: the reads for one change and one filter are made once for
every subscriber with that filter (and their DataLoaders shared), and the figures of a
dashboard filter are computed once per burst for all its subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import strawberry
from starlette.websockets import WebSocket

from gql_support.api.context import Info
from gql_support.api.dataloaders import Loaders
from gql_support.api.errors import IsAuthenticated, query_error
from gql_support.api.inputs import IncidentFilter
from gql_support.api.types import Dashboard, Incident, IncidentEvent
from gql_support.errors import DomainError
from gql_support.incidents import queries
from gql_support.live import bus
from gql_support.live.models import UpdateKind

strawberry.enum(UpdateKind, name="IncidentUpdateKind")

#: A burst of changes within this many seconds moves a dashboard once.
COALESCE_SECONDS = 0.2


@strawberry.type(description="What a live dashboard receives when an incident it can see changes.")
class IncidentUpdate:
    kind: UpdateKind
    incident: Incident
    events: list[IncidentEvent] = strawberry.field(
        description="The history entries that this change added."
    )


@dataclass(frozen=True)
class _Seen:
    seen: queries.ChangeSeen
    loaders: Loaders


class _SharedReads:
    """The reads for (change, filter), made once for every subscriber that needs them."""

    def __init__(self) -> None:
        self._tasks: OrderedDict[tuple[int, str], asyncio.Task[_Seen | None]] = OrderedDict()

    def get(self, change_id: int, f: queries.IncidentFilter | None) -> asyncio.Task[_Seen | None]:
        key = (change_id, repr(f))
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(change_id, f))
            self._tasks[key] = task
            while len(self._tasks) > 1_000:
                self._tasks.popitem(last=False)
        return task

    @staticmethod
    async def _read(change_id: int, f: queries.IncidentFilter | None) -> _Seen | None:
        seen = await queries.change_for_filter(change_id, f)
        return None if seen is None else _Seen(seen, Loaders())


class _DashboardFeed:
    """The figures of one dashboard filter, recomputed once per burst of changes."""

    def __init__(self, f: queries.IncidentFilter | None) -> None:
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
    f: queries.IncidentFilter | None,
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


def _domain_filter(incident_filter: IncidentFilter | None) -> queries.IncidentFilter | None:
    try:
        return None if incident_filter is None else incident_filter.to_domain()
    except DomainError as error:
        raise query_error(error) from error


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
        async with bus.current().hub.subscribe() as feed:
            while True:
                # Too far behind: SubscriberTooSlow ends the subscription (code 4008 over
                # WebSocket, where the shared execution also re-checks each viewer per event).
                change_id = await feed.next()
                shared = await _reads().get(change_id, domain_filter)
                if shared is None:
                    continue
                if not isinstance(info.context.request, WebSocket):
                    # Permissions are re-checked per event: a deactivated viewer hears no more.
                    user = await shared.loaders.user_by_id.load(viewer.id)
                    if user is None or not user.is_active:
                        return
                info.context.loaders = shared.loaders
                seen = shared.seen
                yield IncidentUpdate(
                    kind=seen.change.kind,
                    incident=Incident.from_model(seen.incident),
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
