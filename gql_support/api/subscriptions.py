"""Subscription resolvers: live dashboards fed by the event bus after each commit."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from gql_support.api.context import Info
from gql_support.api.dataloaders import Loaders
from gql_support.api.errors import IsAuthenticated, query_error
from gql_support.api.inputs import IncidentFilter
from gql_support.api.types import Dashboard, Incident, IncidentEvent
from gql_support.errors import DomainError
from gql_support.incidents import queries
from gql_support.live import bus

strawberry.enum(bus.UpdateKind, name="IncidentUpdateKind")


@strawberry.type(description="What a live dashboard receives when an incident it can see changes.")
class IncidentUpdate:
    kind: bus.UpdateKind
    incident: Incident
    events: list[IncidentEvent] = strawberry.field(
        description="The history entries that this change added."
    )


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
        async with bus.subscribe() as changes:
            async for change in changes:
                incident = await queries.matching_incident(domain_filter, change.incident_id)
                if incident is None:
                    continue
                # Each update is read afresh: the loaders must not serve the previous one's data.
                info.context.loaders = Loaders()
                events = await queries.events_by_ids(change.event_ids)
                yield IncidentUpdate(
                    kind=change.kind,
                    incident=Incident.from_model(incident),
                    events=[IncidentEvent.from_model(e) for e in events],
                )

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The dashboard figures, sent once on subscribing and again after each "
        "change that moves them.",
    )
    async def dashboard_updates(
        self, filter: IncidentFilter | None = None
    ) -> AsyncGenerator[Dashboard, None]:
        domain_filter = _domain_filter(filter)
        async with bus.subscribe() as changes:
            figures = await queries.dashboard(incident_filter=domain_filter)
            yield Dashboard.from_figures(figures)
            async for _ in changes:
                latest = await queries.dashboard(incident_filter=domain_filter)
                if latest != figures:
                    figures = latest
                    yield Dashboard.from_figures(figures)
