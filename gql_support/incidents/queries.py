"""Reading incidents: the dashboard list (filters, ordering, cursors), its figures, and the
batch look-ups that the API's DataLoaders call."""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

import orjson
from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.queries import Table
from pypika_tortoise.terms import Term
from tortoise import connections
from tortoise.expressions import Q, RawSQL
from tortoise.functions import Coalesce, Count
from tortoise.models import Model
from tortoise.queryset import QuerySet, ValuesQuery

from gql_support import db
from gql_support.accounts.models import User
from gql_support.db import MAX_INT
from gql_support.errors import InvalidInput
from gql_support.incidents.counting import Counting, count_column, search_of
from gql_support.incidents.filters import (
    And,
    In,
    IncidentFilter,
    IncidentView,
    Or,
    Predicate,
    Range,
    compile_q,
    holds,
    overdue,
    predicate_of,
    view_of,
    words_in,
)
from gql_support.incidents.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    STATUS_RANK,
    Comment,
    Incident,
    IncidentEvent,
    IncidentStatus,
    IncidentSupporter,
    IncidentWatcher,
    Priority,
    Reference,
)
from gql_support.incidents.search import estimate_matches, search_hits
from gql_support.live.models import IncidentChange

MAX_PAGE = 100
DEFAULT_PAGE = 50
#: Incidents without a due date sort as if due at the end of time.
_NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)
_FIRST_DAY = datetime(1, 1, 2, tzinfo=UTC)

T = TypeVar("T")


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
    #: Whether the count is an estimate (a frequent word searched: ``counting``).
    total_count_is_estimate: Callable[[], Awaitable[bool]]


def _encode_cursor(data: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode()


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


def _where(
    query: QuerySet[Incident], predicate: Predicate, *, unindexed: bool = False
) -> QuerySet[Incident]:
    condition, annotations = compile_q(predicate, dialect=_dialect(), unindexed=unindexed)
    if annotations:
        query = query.annotate(**annotations)
    return query.filter(condition)


def filtered_incidents(incident_filter: IncidentFilter | None) -> QuerySet[Incident]:
    """The incidents a dashboard filter selects."""
    return incidents_where(predicate_of(incident_filter, now=datetime.now(UTC)))


def incidents_where(predicate: Predicate, *, unindexed: bool = False) -> QuerySet[Incident]:
    """The incidents a predicate selects (``unindexed``: see ``filters.compile_q``)."""
    return _where(Incident.all(), predicate, unindexed=unindexed)


#: A search PostgreSQL estimates to match at most this many incidents checks the filter's
#: status, priority, type and due-date conditions on each match rather than through their
#: indexes (``filters.compile_q``'s ``unindexed``). At 1M incidents, checking 10,000 matches
#: took 27 to 43 ms, and 20,000, 33 to 65 ms, where ANDing them with the bitmap of a broad
#: condition (167,000 to 506,000 rows) took 62 to 236 ms; from 50,000 matches on the AND is
#: about as fast, for a frequent word much faster, and a narrow filter (one status in 20)
#: gains from it at any frequency (benchmarks/README.md, "A search with a broad filter").
CHECKED_ON_MATCHES_UP_TO = 20_000


def _broad(predicate: Predicate) -> bool:
    """Whether a predicate has a condition that ``unindexed`` writes off its index."""
    if isinstance(predicate, And | Or):
        return any(_broad(part) for part in predicate.parts)
    return isinstance(predicate, In | Range)


async def _broad_search_matches(predicate: Predicate) -> int | None:
    """For a search with a condition that ``unindexed`` writes off its index, PostgreSQL's
    estimate of the search's matches (no row read): whether the list is best read from them,
    each checked against the rest of the filter (see ``CHECKED_ON_MATCHES_UP_TO``)."""
    searched = search_of(predicate)
    if searched is None or not _broad(searched[1]):
        return None
    return await estimate_matches(searched[0])


#: What the API shows of a user, read as plain values where a page reads many.
USER_COLUMNS = ("id", "name", "email", "role", "locale", "is_active", "time_zone")

#: Every column of an incident but its search text (a foreign key's ``_id`` column is in the
#: projection once Tortoise is initialised, not before: listed once either way).
LISTED_COLUMNS = tuple(
    dict.fromkeys(
        (
            *(name for name in Incident._meta.fields_db_projection if name != "search_document"),
            *(f"{name}_id" for name in sorted(Incident._meta.fk_fields)),
        )
    )
)


def _in_order(
    query: QuerySet[Incident], order: IncidentOrder, after: tuple[Any, int] | None
) -> QuerySet[Incident]:
    """The incidents in a total order (the sort field, then id), from past the position
    ``after`` (a sort value and an id) when given."""
    column = _SORT_COLUMN[order.field]
    if order.field is OrderField.DUE_DATE:
        query = query.annotate(due_sort=Coalesce("due_date", _NO_DUE_DATE))
    if after is not None:
        value, last_id = after
        beyond = "lt" if order.descending else "gt"
        past: dict[str, Any] = {f"{column}__{beyond}": value}
        tied: dict[str, Any] = {column: value, f"id__{beyond}": last_id}
        query = query.filter(Q(**past) | Q(**tied))
    sign = "-" if order.descending else ""
    return query.order_by(f"{sign}{column}", f"{sign}id")


def _position(incident: Incident, order: IncidentOrder) -> tuple[Any, int]:
    """Where an incident read by ``_in_order`` stands in that order."""
    return getattr(incident, _SORT_COLUMN[order.field]), incident.id


@dataclass(frozen=True, kw_only=True)
class PageExtras:
    """What the rows of a dashboard page carry beyond the incident's own columns, each read in
    the page's own statement (a correlated subquery per row, on an indexed column)."""

    #: ``comment_count``: how many comments the incident has.
    comment_count: bool = False
    #: ``reporter_user`` and ``assignee_user``: those users (a sequence of their
    #: ``USER_COLUMNS`` values, in that order), or None.
    users: bool = False
    #: ``supporter_users``: its supporters (each as for ``users``), by name (then id).
    supporters: bool = False
    #: ``total_count``: how many incidents the whole list holds (one uncorrelated subquery,
    #: computed once), so that the count costs no statement of its own.
    total_count: bool = False


#: A user's ``USER_COLUMNS`` as one value, in that order: a row, which asyncpg decodes to a
#: tuple (no JSON to parse), on PostgreSQL; a JSON array on SQLite.
_USER_VALUES = ", ".join(f"u.{c}" for c in USER_COLUMNS)


def _user_value(postgres: bool) -> str:
    return f"ROW({_USER_VALUES})" if postgres else f"json_array({_USER_VALUES})"


def _user_columns(postgres: bool) -> dict[str, Term]:
    user = _user_value(postgres)
    return {
        f"{name}_user": RawSQL(f'(SELECT {user} FROM "user" u WHERE u.id = "incident"."{column}")')
        for name, column in (("reporter", "reporter_id"), ("assignee", "assigned_to_id"))
    }


def _supporters(postgres: bool) -> str:
    """An incident's supporters as users ``u``, by name (then id): their ids, then each user by
    its key (joined, PostgreSQL hashed every user for each incident of the page)."""
    ids = 'SELECT s.user_id FROM "incident_supporter" s WHERE s.incident_id = "incident"."id"'
    match = f"= ANY(ARRAY({ids}))" if postgres else f"IN ({ids})"
    return f'FROM "user" u WHERE u.id {match} ORDER BY u.name, u.id'


def _supporter_column(postgres: bool) -> RawSQL:
    user = _user_value(postgres)
    if postgres:
        return RawSQL(f"ARRAY(SELECT {user} {_supporters(postgres)})")
    # SQLite aggregates in the order of the subquery's rows; json() keeps each an array.
    supporters = f"SELECT {user} AS o {_supporters(postgres)}"
    return RawSQL(f"(SELECT json_group_array(json(x.o)) FROM ({supporters}) x)")


def _extra_columns(extras: PageExtras, *, count: Term | None) -> dict[str, Term]:
    postgres = _dialect() == "postgres"
    columns: dict[str, Term] = {}
    if count is not None:
        columns["total_count"] = count
    if extras.comment_count:
        columns["comment_count"] = RawSQL(
            '(SELECT count(*) FROM "comment" c WHERE c.incident_id = "incident"."id")'
        )
    if extras.users:
        columns.update(_user_columns(postgres))
    if extras.supporters:
        columns["supporter_users"] = _supporter_column(postgres)
    return columns


def _row_extras(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite's users come as JSON text.
    for name in ("reporter_user", "assignee_user", "supporter_users"):
        value = row.get(name)
        if isinstance(value, str):
            row[name] = json.loads(value)
    return row


@dataclass(frozen=True)
class _PageView:
    """What one dashboard page reads: the list (``predicate``, ``order``), where in it
    (``position``, ``size``), which values of its incidents (``columns``, ``extras``), and
    whether its broad conditions are checked on the search's matches (``unindexed``)."""

    predicate: Predicate
    order: IncidentOrder
    position: tuple[Any, int] | None
    size: int
    columns: tuple[str, ...]
    extras: PageExtras
    unindexed: bool = False

    def query(self) -> ValuesQuery[Literal[False]]:
        """The page's statement (one row past it tells whether there is a next)."""
        base = incidents_where(self.predicate, unindexed=self.unindexed)
        # The count goes into the page's statement when it can (see ``count_column``).
        count = count_column(base, self.predicate) if self.extras.total_count else None
        extra = _extra_columns(self.extras, count=count)
        sort_column = _SORT_COLUMN[self.order.field]
        read = ("id", "reporter_id", "assigned_to_id", sort_column, *self.columns, *extra)
        query = _in_order(base, self.order, self.position).limit(self.size + 1)
        if extra:
            query = query.annotate(**extra)
        return query.values(*dict.fromkeys(read))


@lru_cache(maxsize=256)
def _page_statement(view: _PageView) -> tuple[str, tuple[Any, ...]]:
    """A PostgreSQL page's SQL and parameters, built once for the same view: Tortoise builds a
    statement anew each time (5 % of a page's instructions), and a desk asks for the same few
    views over and over."""
    sql, parameters = db.parameterized(view.query())
    return sql, tuple(parameters)


async def _page_rows(view: _PageView) -> list[dict[str, Any]]:
    """A page's rows. On PostgreSQL, as asyncpg returns them: text for an enum (which GraphQL
    shows by its value, faster than a member) and aware datetimes, so Tortoise's conversion of
    every value is skipped. SQLite returns dates as text: Tortoise runs and converts there."""
    if _dialect() != "postgres":
        return await view.query()
    sql, parameters = _page_statement(view)
    # A page is never read inside a transaction: the default connection.
    client = connections.get("default")
    rows: list[dict[str, Any]] = await client.execute_query_dict(sql, list(parameters))
    return rows


async def list_incidents(
    *,
    incident_filter: IncidentFilter | None = None,
    order: IncidentOrder | None = None,
    first: int | None = None,
    after: str | None = None,
    columns: Collection[str] = LISTED_COLUMNS,
    extras: PageExtras = PageExtras(),
) -> Page[dict[str, Any]]:
    """A page of the dashboard: filtered, in a total order (the sort field, then id), as plain
    values: the incidents' ``columns`` (of ``LISTED_COLUMNS``; their ids, reporters and
    assignees always) and the ``extras`` asked for, in one statement."""
    order = order or IncidentOrder()
    size = _page_size(first)
    predicate = predicate_of(incident_filter, now=datetime.now(UTC))
    position = None if after is None else _cursor_position(after, order.field)
    # Read here for the page, and kept for its count.
    matches = await _broad_search_matches(predicate)
    unindexed = matches is not None and matches <= CHECKED_ON_MATCHES_UP_TO
    view = _PageView(predicate, order, position, size, tuple(columns), extras, unindexed)
    rows = [_row_extras(row) for row in await _page_rows(view)]
    items = rows[:size]
    # Counted in the page's statement when it could be; an empty page (past the end) counts
    # on its own.
    known = int(rows[0]["total_count"]) if rows and "total_count" in rows[0] else None
    counting = Counting(
        lambda: incidents_where(predicate, unindexed=unindexed),
        predicate,
        where=incidents_where,
        matches=matches,
        known=known,
    )
    sort_column = _SORT_COLUMN[order.field]

    def cursor(row: dict[str, Any]) -> str:
        value = row[sort_column]
        if isinstance(value, datetime):
            value = value.isoformat()
        return _encode_cursor([order.field.value, value, row["id"]])

    return Page(
        items=items,
        cursors=[cursor(row) for row in items],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
        total_count=counting.total,
        total_count_is_estimate=counting.is_estimate,
    )


async def incidents_in_batches(
    *,
    incident_filter: IncidentFilter | None,
    order: IncidentOrder,
    batch_size: int,
    now: datetime,
) -> AsyncIterator[list[Incident]]:
    """Every incident of the dashboard's list, in its order, ``batch_size`` at a time: each
    batch is one keyset query, as the next page would be ("overdue" judged once, at ``now``).
    Their search text (every comment's words) is left unread."""
    base = incidents_where(predicate_of(incident_filter, now=now)).only(*LISTED_COLUMNS)
    position: tuple[Any, int] | None = None
    while True:
        batch = await _in_order(base, order, position).limit(batch_size)
        if batch:
            yield batch
        if len(batch) < batch_size:
            return
        position = _position(batch[-1], order)


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
    overdue_count = await _where(base, overdue(datetime.now(UTC))).count()
    return DashboardFigures(
        total=sum(by_status.values()),
        open=sum(by_status[s] for s in OPEN_STATUSES),
        overdue=overdue_count,
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


async def user_rows(ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The users with these ids, as plain values, by id."""
    rows = await User.filter(id__in=list(ids)).values(*USER_COLUMNS)
    return {row["id"]: row for row in rows}


async def user_rows_by_incident(
    model: type[IncidentSupporter] | type[IncidentWatcher], incident_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """The supporters (or watchers) of each incident, by name, as plain values
    (``USER_COLUMNS``)."""
    rows = (
        await model.filter(incident_id__in=list(incident_ids))
        .order_by("user__name", "user_id")
        .values("incident_id", *(f"user__{column}" for column in USER_COLUMNS))
    )
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["incident_id"]].append({c: row[f"user__{c}"] for c in USER_COLUMNS})
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


async def events_by_ids(event_ids: Sequence[int]) -> list[IncidentEvent]:
    """History entries by id, oldest first."""
    return await IncidentEvent.filter(id__in=list(event_ids)).order_by("id")


@dataclass(frozen=True, kw_only=True)
class ChangeSeen:
    """A committed change as a subscriber with a filter sees it."""

    change: IncidentChange
    incident: Incident
    events: list[IncidentEvent]


@dataclass(frozen=True, kw_only=True)
class LiveChange:
    """A committed change, read once for every live filter: its incident as the filters see it
    now and, unless it was just reported, as they saw it before the change."""

    seen: ChangeSeen
    now: IncidentView
    before: IncidentView | None


#: Whether the incident's text held some words before the change, and whether it holds them now.
SearchHit = tuple[bool, bool]
#: Answers the searches of a filter for one change (batched by the caller as it likes).
SearchLookup = Callable[[list[str]], Awaitable[Sequence[SearchHit]]]


async def read_change(change_id: int) -> LiveChange | None:
    """The change with its incident, history entries and filter views; None if it is gone."""
    change = await IncidentChange.get_or_none(id=change_id)
    if change is None:
        return None
    incident = await Incident.get_or_none(id=change.incident_id)
    if incident is None:
        return None
    supporters = await IncidentSupporter.filter(incident_id=incident.id).values("user_id")
    watchers = await IncidentWatcher.filter(incident_id=incident.id).values("user_id")
    now = view_of(
        incident, [row["user_id"] for row in supporters], [row["user_id"] for row in watchers]
    )
    before = None if change.before is None else IncidentView.from_json(change.before)
    events = await events_by_ids(change.event_ids)
    seen = ChangeSeen(change=change, incident=incident, events=events)
    return LiveChange(seen=seen, now=now, before=before)


async def search_change(live: LiveChange, words: Sequence[str]) -> list[SearchHit]:
    """For each of ``words``, whether the incident's text held them before the change and holds
    them now: one query for them all on PostgreSQL."""
    now_length = live.now.text_length or 0
    before_length = now_length
    if live.before is not None and live.before.text_length is not None:
        before_length = live.before.text_length
    hits = await search_hits(
        live.seen.incident,
        words=words,
        lengths=[before_length, now_length],
        dialect=_dialect(),
    )
    return [(before, now) for before, now in hits]


async def change_for_filter(
    live: LiveChange, incident_filter: IncidentFilter | None, *, search: SearchLookup
) -> ChangeSeen | None:
    """The change, if its incident passes the filter now or passed it before the change, so a
    dashboard can add and drop rows; None otherwise."""
    predicate = predicate_of(incident_filter, now=datetime.now(UTC))
    words = words_in(predicate)
    hits = dict(zip(words, await search(words), strict=True))
    if holds(predicate, live.now, {w: now for w, (_, now) in hits.items()}):
        return live.seen
    if live.before is not None and holds(
        predicate, live.before, {w: before for w, (before, _) in hits.items()}
    ):
        return live.seen
    return None
