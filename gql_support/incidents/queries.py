"""Reading incidents: the dashboard list (filters, ordering, cursors), its figures, and the
batch look-ups that the API's DataLoaders call."""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.queries import Table
from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.functions import Coalesce, Count
from tortoise.models import Model
from tortoise.queryset import QuerySet

from gql_support.accounts.models import User
from gql_support.db import MAX_INT
from gql_support.errors import InvalidInput
from gql_support.incidents.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    STATUS_RANK,
    Comment,
    Incident,
    IncidentEvent,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Priority,
    Reference,
)
from gql_support.incidents.search import check_search, filter_by_words
from gql_support.live.models import IncidentChange

MAX_PAGE = 100
DEFAULT_PAGE = 50
#: Incidents without a due date sort as if due at the end of time.
_NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)
_FIRST_DAY = datetime(1, 1, 2, tzinfo=UTC)

T = TypeVar("T", bound=Model)


class OrderField(StrEnum):
    NUMBER = "NUMBER"
    PRIORITY = "PRIORITY"
    STATUS = "STATUS"
    DUE_DATE = "DUE_DATE"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


_DATETIME_COLUMNS = frozenset({"due_sort", "created_at", "updated_at"})
_SORT_COLUMN = {
    OrderField.NUMBER: "number",
    OrderField.PRIORITY: "priority_rank",
    OrderField.STATUS: "status_rank",
    OrderField.DUE_DATE: "due_sort",
    OrderField.CREATED_AT: "created_at",
    OrderField.UPDATED_AT: "updated_at",
}

# Ranks are SMALLINT columns: a cursor may only hold a real rank.
_LARGEST_SORT_VALUE = {
    OrderField.PRIORITY: max(PRIORITY_RANK.values()),
    OrderField.STATUS: max(STATUS_RANK.values()),
}


@dataclass(frozen=True, kw_only=True)
class IncidentFilter:
    status: Sequence[IncidentStatus] | None = None
    priority: Sequence[Priority] | None = None
    type: Sequence[IncidentType] | None = None
    assigned_to_id: int | None = None
    involving_user_id: int | None = None
    watched_by_user_id: int | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        # Refused on construction, before any SQL and before a subscription starts.
        if self.search is not None:
            check_search(self.search, field=["filter", "search"])


@dataclass(frozen=True, kw_only=True)
class IncidentOrder:
    field: OrderField = OrderField.NUMBER
    descending: bool = True


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list, with a cursor per item and a count of the whole list on demand."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    total_count: Callable[[], Awaitable[int]]


def _encode_cursor(data: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, list) or len(data) != length:
        raise InvalidInput("after is not a cursor of this list", field=["after"])
    return data


def _cursor_position(cursor: str, field: OrderField) -> tuple[int | datetime, int]:
    """The sort value and id a dashboard cursor stands at, checked against the ordering."""
    kind, value, last_id = _decode_cursor(cursor, 3)
    if kind != field.value:
        raise InvalidInput("after belongs to another ordering", field=["after"])
    position: int | datetime
    if _SORT_COLUMN[field] in _DATETIME_COLUMNS:
        position = _cursor_instant(value)
    else:
        position = _cursor_int(value, largest=_LARGEST_SORT_VALUE.get(field, MAX_INT))
    return position, _cursor_int(last_id)


def _cursor_int(value: Any, *, largest: int = MAX_INT) -> int:
    """A number from a cursor, within what the column it is compared with can hold."""
    if type(value) is not int or not 0 <= value <= largest:
        raise InvalidInput("after is not a cursor of this list", field=["after"])
    return value


def _cursor_instant(value: Any) -> datetime:
    """A date from a cursor: with an offset, a day clear of year 1 (no driver converts one to
    UTC), and no later than the no-due-date value."""
    try:
        instant = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        instant = None
    if instant is None or instant.utcoffset() is None or not _FIRST_DAY < instant <= _NO_DUE_DATE:
        raise InvalidInput("after is not a cursor of this list", field=["after"])
    return instant


def _page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0:
        raise InvalidInput("first must not be negative", field=["first"])
    return min(first, MAX_PAGE)


def _dialect() -> str:
    return str(connections.get("default").capabilities.dialect)


def filter_view(
    incident: Incident, supporter_ids: Sequence[int], watcher_ids: Sequence[int]
) -> dict[str, Any]:
    """What the dashboard filters look at, as plain JSON: kept with a change as its "before"."""
    return {
        "status": str(incident.status),
        "priority": str(incident.priority),
        "type": str(incident.type),
        "assigned_to_id": incident.assigned_to_id,
        "reporter_id": incident.reporter_id,
        "supporter_ids": list(supporter_ids),
        "watcher_ids": list(watcher_ids),
        "due_date": incident.due_date.isoformat() if incident.due_date else None,
    }


def view_matches(f: IncidentFilter | None, view: dict[str, Any], *, text: str) -> bool:
    """Whether an incident seen as ``view`` (and ``text`` for words) passes the filter: the
    filter of ``filtered_incidents``, judged in Python, for the state before a change."""
    if f is None:
        return True
    due = datetime.fromisoformat(view["due_date"]) if view["due_date"] else None
    now = datetime.now(UTC)
    overdue = due is not None and due < now and view["status"] in OPEN_STATUSES
    involved = {view["reporter_id"], view["assigned_to_id"], *view["supporter_ids"]}
    checks = [
        f.status is None or view["status"] in f.status,
        f.priority is None or view["priority"] in f.priority,
        f.type is None or view["type"] in f.type,
        f.assigned_to_id is None or view["assigned_to_id"] == f.assigned_to_id,
        f.involving_user_id is None or f.involving_user_id in involved,
        f.watched_by_user_id is None or f.watched_by_user_id in view["watcher_ids"],
        f.overdue is None or overdue == f.overdue,
        f.due_before is None or (due is not None and due < f.due_before),
        f.due_after is None or (due is not None and due >= f.due_after),
        not f.search or all(w.lower() in text.lower() for w in f.search.split()),
    ]
    return all(checks)


def filtered_incidents(incident_filter: IncidentFilter | None) -> QuerySet[Incident]:
    """The incidents a dashboard filter selects."""
    query = Incident.all()
    f = incident_filter or IncidentFilter()
    # Status and priority filter on their ranks, which the (rank, id) indexes cover.
    if f.status is not None:
        query = query.filter(status_rank__in=[STATUS_RANK[s] for s in f.status])
    if f.priority is not None:
        query = query.filter(priority_rank__in=[PRIORITY_RANK[p] for p in f.priority])
    if f.type is not None:
        query = query.filter(type__in=list(f.type))
    if f.assigned_to_id is not None:
        query = query.filter(assigned_to_id=f.assigned_to_id)
    if f.involving_user_id is not None:
        supported = IncidentSupporter.filter(user_id=f.involving_user_id).values("incident_id")
        query = query.filter(
            Q(reporter_id=f.involving_user_id)
            | Q(assigned_to_id=f.involving_user_id)
            | Q(id__in=Subquery(supported))
        )
    if f.watched_by_user_id is not None:
        watched = IncidentWatcher.filter(user_id=f.watched_by_user_id).values("incident_id")
        query = query.filter(id__in=Subquery(watched))
    if f.overdue is not None:
        now = datetime.now(UTC)
        if f.overdue:
            query = query.filter(due_date__lt=now, status__in=list(OPEN_STATUSES))
        else:
            # Spelled out rather than negated: NOT (due_date < now) is NULL without a due date.
            query = query.filter(
                Q(due_date__isnull=True)
                | Q(due_date__gte=now)
                | Q(status__not_in=list(OPEN_STATUSES))
            )
    if f.due_before is not None:
        query = query.filter(due_date__lt=f.due_before)
    if f.due_after is not None:
        query = query.filter(due_date__gte=f.due_after)
    if f.search is not None and f.search.strip():
        query = filter_by_words(query, f.search.strip(), dialect=_dialect())
    return query


async def list_incidents(
    *,
    incident_filter: IncidentFilter | None = None,
    order: IncidentOrder | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[Incident]:
    """A page of the dashboard: filtered, in a total order (the sort field, then id)."""
    order = order or IncidentOrder()
    size = _page_size(first)
    column = _SORT_COLUMN[order.field]
    base = filtered_incidents(incident_filter)
    query = base
    if order.field is OrderField.DUE_DATE:
        query = query.annotate(due_sort=Coalesce("due_date", _NO_DUE_DATE))
    if after is not None:
        value, last_id = _cursor_position(after, order.field)
        beyond = "lt" if order.descending else "gt"
        past: dict[str, Any] = {f"{column}__{beyond}": value}
        tied: dict[str, Any] = {column: value, f"id__{beyond}": last_id}
        query = query.filter(Q(**past) | Q(**tied))
    sign = "-" if order.descending else ""
    rows = await query.order_by(f"{sign}{column}", f"{sign}id").limit(size + 1)
    items = rows[:size]

    def cursor(incident: Incident) -> str:
        value = getattr(incident, column)
        if isinstance(value, datetime):
            value = value.isoformat()
        return _encode_cursor([order.field.value, value, incident.id])

    return Page(
        items=items,
        cursors=[cursor(i) for i in items],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
        total_count=base.count,
    )


@dataclass(frozen=True, kw_only=True)
class DashboardFigures:
    total: int
    open: int
    overdue: int
    by_status: dict[IncidentStatus, int]
    by_priority: dict[Priority, int]


async def dashboard(*, incident_filter: IncidentFilter | None = None) -> DashboardFigures:
    """The counts at the top of the dashboard, for the incidents the filter selects."""
    base = filtered_incidents(incident_filter)
    by_status = {status: 0 for status in IncidentStatus}
    for status, count in await (
        base.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    ):
        by_status[IncidentStatus(status)] = count
    by_priority = {priority: 0 for priority in Priority}
    for priority, count in await (
        base.annotate(n=Count("id")).group_by("priority").values_list("priority", "n")
    ):
        by_priority[Priority(priority)] = count
    overdue = await base.filter(
        due_date__lt=datetime.now(UTC), status__in=list(OPEN_STATUSES)
    ).count()
    return DashboardFigures(
        total=sum(by_status.values()),
        open=sum(by_status[s] for s in OPEN_STATUSES),
        overdue=overdue,
        by_status=by_status,
        by_priority=by_priority,
    )


async def get_incident(
    *, incident_id: int | None = None, number: int | None = None
) -> Incident | None:
    """One incident by id or by Request ID."""
    if incident_id is not None:
        return await Incident.get_or_none(id=incident_id)
    if number is not None:
        return await Incident.get_or_none(number=number)
    return None


async def users_by_incident(
    model: type[IncidentSupporter] | type[IncidentWatcher], incident_ids: Sequence[int]
) -> dict[int, list[User]]:
    """The supporters (or watchers) of each incident, by name."""
    links = (
        await model.filter(incident_id__in=list(incident_ids))
        .select_related("user")
        .order_by("user__name", "user_id")
    )
    grouped: dict[int, list[User]] = defaultdict(list)
    for link in links:
        grouped[link.incident_id].append(link.user)
    return grouped


async def references_by_incident(incident_ids: Sequence[int]) -> dict[int, list[Reference]]:
    """The references of each incident, oldest first."""
    grouped: dict[int, list[Reference]] = defaultdict(list)
    for reference in await Reference.filter(incident_id__in=list(incident_ids)).order_by("id"):
        grouped[reference.incident_id].append(reference)
    return grouped


async def count_by_incident(
    model: type[Comment] | type[IncidentEvent], incident_ids: Sequence[int]
) -> dict[int, int]:
    """How many comments (or history entries) each incident has."""
    rows = await (
        model.filter(incident_id__in=list(incident_ids))
        .annotate(n=Count("id"))
        .group_by("incident_id")
        .values_list("incident_id", "n")
    )
    return dict(rows)


async def page_by_incident(
    model: type[Comment] | type[IncidentEvent],
    incident_ids: Sequence[int],
    *,
    first: int | None,
    after: str | None,
) -> dict[int, tuple[list[Any], bool]]:
    """For each incident, its next ``first`` comments (or history entries) after the cursor,
    oldest first, and whether more follow: only those rows (and one more each) are read."""
    size = _page_size(first)
    after_id = None if after is None else _cursor_int(_decode_cursor(after, 1)[0])
    if len(incident_ids) == 1:
        query = model.filter(incident_id=incident_ids[0])
        if after_id is not None:
            query = query.filter(id__gt=after_id)
        rows: list[Any] = await query.order_by("id").limit(size + 1)
    else:
        rows = await _first_rows_by_incident(model, incident_ids, after_id, size + 1)
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.incident_id].append(row)
    return {key: (rows[:size], len(rows) > size) for key, rows in grouped.items()}


async def _first_rows_by_incident(
    model: type[Comment] | type[IncidentEvent],
    incident_ids: Sequence[int],
    after_id: int | None,
    limit: int,
) -> list[Any]:
    """The first ``limit`` rows of each incident (after ``after_id``), oldest first, in one
    statement: rows are numbered per incident by a window function and cut in SQL."""
    db = connections.get("default")
    table = Table(model._meta.db_table)
    rank = RowNumber().over(table.incident_id).orderby(table.id)
    numbered = (
        db.query_class.from_(table)
        .select(table.star, rank.as_("page_rank"))
        .where(table.incident_id.isin(list(incident_ids)))
    )
    if after_id is not None:
        numbered = numbered.where(table.id > after_id)
    page = (
        db.query_class.from_(numbered)
        .select(numbered.star)
        .where(numbered.page_rank <= limit)
        .orderby(numbered.id)
    )
    executor = db.executor_class(model=model, db=db)
    return list(await executor.execute_select(*page.get_parameterized_sql()))


def row_cursor(row: Model) -> str:
    """The cursor after a comment or history entry."""
    return _encode_cursor([row.pk])


async def matching_incident(
    incident_filter: IncidentFilter | None, incident_id: int
) -> Incident | None:
    """The incident, if the filter selects it."""
    return await filtered_incidents(incident_filter).filter(id=incident_id).first()


async def events_by_ids(event_ids: Sequence[int]) -> list[IncidentEvent]:
    """History entries by id, oldest first."""
    return await IncidentEvent.filter(id__in=list(event_ids)).order_by("id")


@dataclass(frozen=True, kw_only=True)
class ChangeSeen:
    """A committed change as a subscriber with a filter sees it."""

    change: IncidentChange
    incident: Incident
    events: list[IncidentEvent]


async def change_for_filter(
    change_id: int, incident_filter: IncidentFilter | None
) -> ChangeSeen | None:
    """The change, if its incident passes the filter after it or passed it before it, so a
    dashboard can add and drop rows; None otherwise."""
    change = await IncidentChange.get_or_none(id=change_id)
    if change is None:
        return None
    incident = await matching_incident(incident_filter, change.incident_id)
    if incident is None:
        if change.before is None:
            return None
        incident = await Incident.get_or_none(id=change.incident_id)
        if incident is None or not view_matches(
            incident_filter, change.before, text=incident.search_document
        ):
            return None
    return ChangeSeen(
        change=change, incident=incident, events=await events_by_ids(change.event_ids)
    )
