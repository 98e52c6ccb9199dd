"""DataLoaders, built fresh for every request so their cache never outlives it. Users come as
plain values (no model instances on the read path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from gql_support.attachments import service as attachments
from gql_support.attachments.models import Attachment
from gql_support.errors import DomainError
from gql_support.incidents import queries
from gql_support.incidents.models import (
    Comment,
    IncidentEvent,
    IncidentSupporter,
    IncidentWatcher,
    Reference,
)

#: (incident id, first, after): one page of an incident's comments or history.
PageKey = tuple[int, int | None, str | None]
PageResult = tuple[list[Any], bool]


#: A user as plain values (``queries.USER_COLUMNS``).
UserRow = dict[str, Any]


async def _users(ids: list[int]) -> list[UserRow | None]:
    found = await queries.user_rows(ids)
    return [found.get(i) for i in ids]


async def _supporters(ids: list[int]) -> list[list[UserRow]]:
    grouped = await queries.user_rows_by_incident(IncidentSupporter, ids)
    return [grouped.get(i, []) for i in ids]


async def _watchers(ids: list[int]) -> list[list[UserRow]]:
    grouped = await queries.user_rows_by_incident(IncidentWatcher, ids)
    return [grouped.get(i, []) for i in ids]


async def _references(ids: list[int]) -> list[list[Reference]]:
    grouped = await queries.references_by_incident(ids)
    return [grouped.get(i, []) for i in ids]


async def _comment_attachments(ids: list[int]) -> list[list[Attachment]]:
    grouped = await attachments.attachments_by_comment(ids)
    return [grouped.get(i, []) for i in ids]


async def _incident_attachments(ids: list[int]) -> list[list[Attachment]]:
    grouped = await attachments.attachments_by_incident(ids)
    return [grouped.get(i, []) for i in ids]


def _counter(model: type[Comment] | type[IncidentEvent]) -> DataLoader[int, int]:
    async def load(ids: list[int]) -> list[int]:
        counts = await queries.count_by_incident(model, ids)
        return [counts.get(i, 0) for i in ids]

    return DataLoader(load)


def _pager(model: type[Comment] | type[IncidentEvent]) -> DataLoader[PageKey, PageResult]:
    async def load(keys: list[PageKey]) -> Sequence[PageResult | DomainError]:
        by_window: dict[tuple[int | None, str | None], list[int]] = {}
        for incident_id, first, after in keys:
            by_window.setdefault((first, after), []).append(incident_id)
        pages: dict[PageKey, PageResult | DomainError] = {}
        for (first, after), ids in by_window.items():
            try:
                found = await queries.page_by_incident(model, ids, first=first, after=after)
            except DomainError as error:
                # A bad first or after fails its own fields, not the other windows of the batch.
                pages.update({(incident_id, first, after): error for incident_id in ids})
                continue
            for incident_id in ids:
                pages[(incident_id, first, after)] = found.get(incident_id, ([], False))
        return [pages[key] for key in keys]

    return DataLoader(load)


@dataclass
class Loaders:
    user_by_id: DataLoader[int, UserRow | None] = field(default_factory=lambda: DataLoader(_users))
    supporters_by_incident_id: DataLoader[int, list[UserRow]] = field(
        default_factory=lambda: DataLoader(_supporters)
    )
    watchers_by_incident_id: DataLoader[int, list[UserRow]] = field(
        default_factory=lambda: DataLoader(_watchers)
    )
    references_by_incident_id: DataLoader[int, list[Reference]] = field(
        default_factory=lambda: DataLoader(_references)
    )
    attachments_by_comment_id: DataLoader[int, list[Attachment]] = field(
        default_factory=lambda: DataLoader(_comment_attachments)
    )
    attachments_by_incident_id: DataLoader[int, list[Attachment]] = field(
        default_factory=lambda: DataLoader(_incident_attachments)
    )
    comment_count_by_incident_id: DataLoader[int, int] = field(
        default_factory=lambda: _counter(Comment)
    )
    event_count_by_incident_id: DataLoader[int, int] = field(
        default_factory=lambda: _counter(IncidentEvent)
    )
    comments_by_incident_page: DataLoader[PageKey, PageResult] = field(
        default_factory=lambda: _pager(Comment)
    )
    events_by_incident_page: DataLoader[PageKey, PageResult] = field(
        default_factory=lambda: _pager(IncidentEvent)
    )
