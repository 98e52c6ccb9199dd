"""The dashboard's filter language, read alike by the queries and by the live updates.

A dashboard filter (``IncidentFilter``, "My incidents" included) becomes a ``Predicate``: a small
tree of plain values that says what an incident must be to be listed.

    And, Or     every part holds / some part holds (an empty And always holds, an empty Or never)
    In          an enum field (status, priority, type) is one of the values
    Open        the status is (or is not) one that still needs work
    Eq          a user field (reporter, assignee) is this user
    Has         this user is among the incident's supporters or watchers
    Range       the due date is set, at or after ``since`` and before ``until``
    IsNull      the due date is not set
    Search      the incident's text holds the words

``compile_q`` turns a predicate into a Tortoise ``Q`` (and the annotations the ``Q`` filters on)
for the dashboard's queries; ``holds`` judges it in Python against an ``IncidentView``, for the
live updates, which must also judge the incident as it was before a change (each change keeps
its "before" view in the change log). One tree, two readings: a property test holds them equal.
Only ``Search`` cannot be judged from the view alone (PostgreSQL's full-text match stems words):
``holds`` takes its answers from the caller, who gets them from ``search.search_hits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, assert_never

from pypika_tortoise.terms import Term
from tortoise.expressions import Q, RawSQL, Subquery

from gql_support.incidents.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    STATUS_RANK,
    Incident,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Priority,
)
from gql_support.incidents.search import check_search, words_condition


@dataclass(frozen=True, kw_only=True)
class IncidentFilter:
    """What the dashboard asks for: every field given must hold."""

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


@dataclass(frozen=True)
class And:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class In:
    field: Literal["status", "priority", "type"]
    values: frozenset[str]


@dataclass(frozen=True)
class Open:
    """The status is one of ``OPEN_STATUSES`` (or, with ``is_open=False``, is not)."""

    is_open: bool = True


@dataclass(frozen=True)
class Eq:
    field: Literal["reporter_id", "assigned_to_id"]
    value: int


@dataclass(frozen=True)
class Has:
    field: Literal["supporter_ids", "watcher_ids"]
    user_id: int


@dataclass(frozen=True)
class Range:
    """The due date is set and ``since <= due_date < until`` (a missing bound is no bound)."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class IsNull:
    """The due date is not set."""


@dataclass(frozen=True)
class Search:
    words: str


Predicate = And | Or | In | Open | Eq | Has | Range | IsNull | Search


def _utc(moment: datetime) -> datetime:
    """The same instant in UTC; a time without an offset is taken as UTC, as the database does.
    SQLite compares dates as text, so every bound must be written with the stored offset."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def overdue(now: datetime) -> Predicate:
    """Due before ``now`` and still open."""
    return And((Range(until=_utc(now)), Open()))


def not_overdue(now: datetime) -> Predicate:
    """Without a due date, due from ``now`` on, or finished: spelled out rather than negated,
    as SQL's NOT (due_date < now) is NULL, not true, without a due date."""
    return Or((IsNull(), Range(since=_utc(now)), Open(is_open=False)))


def predicate_of(incident_filter: IncidentFilter | None, *, now: datetime) -> Predicate:
    """The predicate a dashboard filter stands for, "overdue" judged at ``now``."""
    f = incident_filter or IncidentFilter()
    parts: list[Predicate] = []
    if f.status is not None:
        parts.append(In("status", frozenset(f.status)))
    if f.priority is not None:
        parts.append(In("priority", frozenset(f.priority)))
    if f.type is not None:
        parts.append(In("type", frozenset(f.type)))
    if f.assigned_to_id is not None:
        parts.append(Eq("assigned_to_id", f.assigned_to_id))
    if f.involving_user_id is not None:
        user_id = f.involving_user_id
        parts.append(
            Or(
                (
                    Eq("reporter_id", user_id),
                    Eq("assigned_to_id", user_id),
                    Has("supporter_ids", user_id),
                )
            )
        )
    if f.watched_by_user_id is not None:
        parts.append(Has("watcher_ids", f.watched_by_user_id))
    if f.overdue is not None:
        parts.append(overdue(now) if f.overdue else not_overdue(now))
    if f.due_before is not None:
        parts.append(Range(until=_utc(f.due_before)))
    if f.due_after is not None:
        parts.append(Range(since=_utc(f.due_after)))
    if f.search is not None and f.search.strip():
        parts.append(Search(f.search.strip()))
    return And(tuple(parts))


@dataclass(frozen=True, kw_only=True)
class IncidentView:
    """What the filters look at in an incident, at one moment."""

    status: IncidentStatus
    priority: Priority
    type: IncidentType
    reporter_id: int
    assigned_to_id: int | None
    supporter_ids: frozenset[int]
    watcher_ids: frozenset[int]
    due_date: datetime | None
    #: How long the search document was: it only grows, so this marks the text of the moment.
    #: None in change log rows written before it was kept: the whole current text.
    text_length: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "priority": str(self.priority),
            "type": str(self.type),
            "assigned_to_id": self.assigned_to_id,
            "reporter_id": self.reporter_id,
            "supporter_ids": sorted(self.supporter_ids),
            "watcher_ids": sorted(self.watcher_ids),
            "due_date": None if self.due_date is None else self.due_date.isoformat(),
            "text_length": self.text_length,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IncidentView:
        due = data["due_date"]
        return cls(
            status=IncidentStatus(data["status"]),
            priority=Priority(data["priority"]),
            type=IncidentType(data["type"]),
            assigned_to_id=data["assigned_to_id"],
            reporter_id=data["reporter_id"],
            supporter_ids=frozenset(data["supporter_ids"]),
            watcher_ids=frozenset(data["watcher_ids"]),
            due_date=None if due is None else datetime.fromisoformat(due),
            text_length=data.get("text_length"),
        )


def view_of(
    incident: Incident, supporter_ids: Sequence[int], watcher_ids: Sequence[int]
) -> IncidentView:
    """The incident as the filters see it now."""
    return IncidentView(
        status=IncidentStatus(incident.status),
        priority=Priority(incident.priority),
        type=IncidentType(incident.type),
        reporter_id=incident.reporter_id,
        assigned_to_id=incident.assigned_to_id,
        supporter_ids=frozenset(supporter_ids),
        watcher_ids=frozenset(watcher_ids),
        due_date=incident.due_date,
        text_length=len(incident.search_document),
    )


def filter_view(
    incident: Incident, supporter_ids: Sequence[int], watcher_ids: Sequence[int]
) -> dict[str, Any]:
    """What the dashboard filters look at, as plain JSON: kept with a change as its "before"."""
    return view_of(incident, supporter_ids, watcher_ids).to_json()


def words_in(predicate: Predicate) -> list[str]:
    """The searches a predicate makes, each once, in order."""
    if isinstance(predicate, And | Or):
        return list(dict.fromkeys(w for part in predicate.parts for w in words_in(part)))
    return [predicate.words] if isinstance(predicate, Search) else []


def holds(predicate: Predicate, view: IncidentView, found: Mapping[str, bool]) -> bool:
    """Whether the incident seen as ``view`` passes; ``found[words]`` tells whether its text
    holds the words of each ``Search``."""
    match predicate:
        case And(parts=parts):
            return all(holds(part, view, found) for part in parts)
        case Or(parts=parts):
            return any(holds(part, view, found) for part in parts)
        case In(field=field, values=values):
            return getattr(view, field) in values
        case Open(is_open=is_open):
            return (view.status in OPEN_STATUSES) == is_open
        case Eq(field=field, value=value):
            return bool(getattr(view, field) == value)
        case Has(field=field, user_id=user_id):
            return user_id in getattr(view, field)
        case Range(since=since, until=until):
            due = view.due_date
            return (
                due is not None
                and (since is None or due >= since)
                and (until is None or due < until)
            )
        case IsNull():
            return view.due_date is None
        case Search(words=words):
            return found[words]
    assert_never(predicate)


_RANK_COLUMNS: dict[str, tuple[str, Mapping[Any, int]]] = {
    # Status and priority filter on their ranks, which the (rank, id) indexes cover.
    "status": ("status_rank", STATUS_RANK),
    "priority": ("priority_rank", PRIORITY_RANK),
}
_LINKS = {"supporter_ids": IncidentSupporter, "watcher_ids": IncidentWatcher}


#: With a rare word searched, the broad conditions are written so that no index answers them
#: (``queries.CHECKED_ON_MATCHES_UP_TO`` says when): PostgreSQL otherwise ANDs the search's GIN
#: bitmap (10,000 matches for a word in 1 % of 1M incidents) with a bitmap of every incident of
#: those statuses, priorities or due dates (450,000 rows for NEW and IN_PROGRESS, 45 to 85 ms
#: to build, once for the page and again for its count), where checking the condition on each
#: match costs less. An assignee or a watcher, selective, keeps its index.
_UNINDEXED = {
    "status_rank": '"status_rank" + 0',
    "priority_rank": '"priority_rank" + 0',
    "type": "\"type\" || ''",
    "due_date": "\"due_date\" + interval '0 s'",
}


def _always(predicate: Predicate) -> bool:
    return isinstance(predicate, And) and all(_always(part) for part in predicate.parts)


def compile_q(
    predicate: Predicate, *, dialect: str, unindexed: bool = False
) -> tuple[Q, dict[str, Term]]:
    """The predicate as a Tortoise ``Q`` over incidents, and the annotations it filters on; with
    ``unindexed`` (PostgreSQL), its status, priority, type and due-date conditions written so
    that no index answers them (see ``_UNINDEXED``)."""
    annotations: dict[str, Term] = {}
    unindexed = unindexed and dialect == "postgres"

    def column(name: str) -> str:
        """The column to compare, or with ``unindexed`` an annotation that no index answers."""
        if not unindexed:
            return name
        annotations[f"{name}_unindexed"] = RawSQL(_UNINDEXED[name])
        return f"{name}_unindexed"

    def walk(p: Predicate) -> Q:
        match p:
            case And(parts=parts):
                return Q(*(walk(part) for part in parts))
            case Or(parts=parts):
                # Tortoise drops an empty Q from an OR rather than make the OR true.
                if any(_always(part) for part in parts):
                    return Q()
                if not parts:
                    return Q(id__in=[])
                return Q(*(walk(part) for part in parts), join_type=Q.OR)
            case In(field=field, values=values):
                if field in _RANK_COLUMNS:
                    rank_column, rank = _RANK_COLUMNS[field]
                    ranks = sorted(rank[v] for v in values)
                    lookup: dict[str, Any] = {f"{column(rank_column)}__in": ranks}
                else:
                    lookup = {f"{column(field)}__in": sorted(values)}
                return Q(**lookup)
            case Open(is_open=is_open):
                if is_open:
                    return Q(status__in=sorted(OPEN_STATUSES))
                return Q(status__not_in=sorted(OPEN_STATUSES))
            case Eq(field=field, value=value):
                equal: dict[str, Any] = {field: value}
                return Q(**equal)
            case Has(field=field, user_id=user_id):
                linked = _LINKS[field].filter(user_id=user_id).values("incident_id")
                return Q(id__in=Subquery(linked))
            case Range(since=since, until=until):
                bounds: dict[str, Any] = {}
                if since is not None:
                    bounds[f"{column('due_date')}__gte"] = since
                if until is not None:
                    bounds[f"{column('due_date')}__lt"] = until
                return Q(**bounds) if bounds else Q(due_date__isnull=False)
            case IsNull():
                return Q(due_date__isnull=True)
            case Search(words=words):
                q, annotation = words_condition(
                    words, dialect=dialect, name=f"search_match_{len(annotations)}"
                )
                annotations.update(annotation)
                return q
        assert_never(p)

    return walk(predicate), annotations
