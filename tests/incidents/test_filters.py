"""One filter language: for any incidents and any dashboard filter, the incidents the query lists
are exactly those the live updates judge to pass, before a change (from the change log's view)
and after it, search included, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gql_support import demo
from gql_support.accounts.models import Role, User
from gql_support.incidents import service
from gql_support.incidents.changes import UNSET, IncidentChanges
from gql_support.incidents.filters import (
    IncidentFilter,
    Predicate,
    holds,
    predicate_of,
    words_in,
)
from gql_support.incidents.models import (
    OPEN_STATUSES,
    Impact,
    Incident,
    IncidentStatus,
    IncidentType,
    Priority,
    Urgency,
)
from gql_support.incidents.queries import (
    IncidentOrder,
    OrderField,
    filtered_incidents,
    incidents_where,
    list_incidents,
    read_change,
    search_change,
)
from gql_support.incidents.workflow import Party, allowed_targets
from gql_support.live.models import IncidentChange
from tests.conftest import MakePerson

#: Words that stem alike in English or French, differ by case (ASCII or not), hide in other
#: words, are stop words, or are LIKE's wildcards and escape.
WORDS = [
    "printer",
    "Printers",
    "print",
    "imprimantes",
    "écran",
    "ÉCRAN",
    "Ecran",
    "straße",
    "the",
    "50%",
    "a_b",
    "back\\slash",
]
#: Searches with PostgreSQL's web search syntax: negation, OR, a phrase; and a blank one.
SPECIAL_SEARCHES = ["-jam printer", "printer or écran", '"printer jam"', "   "]
#: Due dates and date bounds fall on, or a microsecond either side of, the same instants.
MOMENTS = [
    timedelta(hours=-48),
    timedelta(microseconds=-1),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(hours=48),
]
OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
#: The statuses a manager reaches from NEW, and how.
PATHS = {
    IncidentStatus.NEW: [],
    IncidentStatus.IN_PROGRESS: [IncidentStatus.IN_PROGRESS],
    IncidentStatus.ON_HOLD: [IncidentStatus.ON_HOLD],
    IncidentStatus.REJECTED: [IncidentStatus.REJECTED],
    IncidentStatus.CLOSED: [IncidentStatus.CLOSED],
    IncidentStatus.RETESTING: [IncidentStatus.IN_PROGRESS, IncidentStatus.RETESTING],
    IncidentStatus.RESOLVED: [IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED],
}


@dataclass
class People:
    manager: User
    workers: list[User]  # may be assigned and support
    everyone: list[User]


@pytest.fixture
async def people(make_person: MakePerson) -> People:
    manager = (await make_person(Role.MANAGER)).user
    agents = [(await make_person(Role.AGENT)).user for _ in range(2)]
    user = (await make_person(Role.USER)).user
    return People(manager=manager, workers=[manager, *agents], everyone=[manager, *agents, user])


def _text() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


def _moment(now: datetime) -> st.SearchStrategy[datetime]:
    """An instant near ``now``, written with some UTC offset."""
    return st.builds(
        lambda d, tz: (now + d).astimezone(tz), st.sampled_from(MOMENTS), st.sampled_from(OFFSETS)
    )


def _bound(now: datetime) -> st.SearchStrategy[datetime]:
    """A filter's date bound: an instant with an offset, or the same clock time without one
    (taken as UTC)."""
    naive = st.sampled_from(MOMENTS).map(lambda d: (now + d).replace(tzinfo=None))
    return _moment(now) | naive


def _ids(users: list[User]) -> st.SearchStrategy[list[int]]:
    return st.lists(st.sampled_from([u.id for u in users]), max_size=len(users), unique=True)


def _filters(people: People, now: datetime) -> st.SearchStrategy[IncidentFilter]:
    """Filters setting a few fields each (one setting them all would select nothing), half of
    them with a search."""
    user_id = st.sampled_from([u.id for u in people.everyone])
    fields: dict[str, st.SearchStrategy[Any]] = {
        "status": st.lists(st.sampled_from(IncidentStatus), max_size=4),
        "priority": st.lists(st.sampled_from(Priority), max_size=3),
        "type": st.lists(st.sampled_from(IncidentType), max_size=2),
        "assigned_to_id": user_id,
        "involving_user_id": user_id,
        "watched_by_user_id": user_id,
        "overdue": st.booleans(),
        "due_before": _bound(now),
        "due_after": _bound(now),
    }
    search = st.sampled_from(WORDS + SPECIAL_SEARCHES) | st.lists(
        st.sampled_from(WORDS), min_size=2, max_size=3
    ).map(" ".join)
    chosen = st.sets(st.sampled_from(sorted(fields)), max_size=2)
    return st.builds(
        lambda given, words: IncidentFilter(**given, search=words),
        chosen.flatmap(lambda names: st.fixed_dictionaries({n: fields[n] for n in names})),
        st.none() | search,
    )


async def _report(data: st.DataObject, people: People, now: datetime) -> Incident:
    """An incident with any mix of what the filters look at, made through the service."""
    incident = await service.report_incident(
        actor=data.draw(st.sampled_from(people.everyone), label="reporter"),
        description=data.draw(_text(), label="description"),
        type=data.draw(st.sampled_from(IncidentType), label="type"),
        impact=data.draw(st.sampled_from(Impact), label="impact"),
        urgency=data.draw(st.sampled_from(Urgency), label="urgency"),
    )
    workers = [u.id for u in people.workers]
    changes = IncidentChanges(
        assigned_to_id=data.draw(st.none() | st.sampled_from(workers), label="assignee"),
        supported_by_ids=data.draw(_ids(people.workers), label="supporters"),
        watcher_ids=data.draw(_ids(people.everyone), label="watchers"),
        due_date=data.draw(st.none() | _moment(now), label="due date"),
        comment=data.draw(st.none() | _text(), label="comment"),
    )
    done = await service.edit_incident(
        actor=people.manager, incident_id=incident.id, changes=changes
    )
    incident = done.incident
    for status in PATHS[data.draw(st.sampled_from(IncidentStatus), label="status")]:
        incident = await service.update_status(
            actor=people.manager, incident_id=incident.id, status=status
        )
    return incident


async def _change(data: st.DataObject, people: People, now: datetime, incident: Incident) -> int:
    """A later change, always with a comment (the text grows), and the id of its change log row."""
    moves = allowed_targets(IncidentStatus(incident.status), {Party.MANAGER})
    changes = IncidentChanges(
        comment=data.draw(_text(), label="later comment"),
        status=data.draw(st.just(UNSET) | st.sampled_from(moves), label="later status"),
        type=data.draw(st.just(UNSET) | st.sampled_from(IncidentType), label="later type"),
        assigned_to_id=data.draw(
            st.just(UNSET) | st.none() | st.sampled_from([u.id for u in people.workers]),
            label="later assignee",
        ),
        watcher_ids=data.draw(st.just(UNSET) | _ids(people.everyone), label="later watchers"),
        due_date=data.draw(st.just(UNSET) | st.none() | _moment(now), label="later due date"),
    )
    await service.edit_incident(actor=people.manager, incident_id=incident.id, changes=changes)
    change = await IncidentChange.filter(incident_id=incident.id).order_by("-id").first()
    assert change is not None
    return int(change.id)


async def _listed(predicate: Predicate, ids: list[int]) -> set[int]:
    rows = await incidents_where(predicate).filter(id__in=ids).values("id")
    listed = {int(row["id"]) for row in rows}
    # The same conditions written off their indexes (as a rare word's search pages are) select
    # the same incidents.
    rows = await incidents_where(predicate, unindexed=True).filter(id__in=ids).values("id")
    assert {int(row["id"]) for row in rows} == listed, predicate
    return listed


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_the_query_and_the_live_updates_agree(people: People, data: st.DataObject) -> None:
    # Given some incidents, and dashboard filters judged at one instant
    now = datetime.now(UTC)
    count = data.draw(st.integers(1, 4), label="incidents")
    incidents = [await _report(data, people, now) for _ in range(count)]
    ids = [i.id for i in incidents]
    filters = data.draw(st.lists(_filters(people, now), min_size=4, max_size=8), label="filters")
    predicates = [predicate_of(f, now=now) for f in filters]
    listed_before = [await _listed(p, ids) for p in predicates]

    # When each incident changes again
    change_ids = [await _change(data, people, now, i) for i in incidents]
    listed_after = [await _listed(p, ids) for p in predicates]

    # Then the live side judges each incident, before and after its change, as the query did
    for incident_id, change_id in zip(ids, change_ids, strict=True):
        live = await read_change(change_id)
        assert live is not None
        assert live.before is not None
        for predicate, before, after in zip(predicates, listed_before, listed_after, strict=True):
            words = words_in(predicate)
            hits = dict(zip(words, await search_change(live, words), strict=True))
            was = holds(predicate, live.before, {w: hit[0] for w, hit in hits.items()})
            is_ = holds(predicate, live.now, {w: hit[1] for w, hit in hits.items()})
            assert was == (incident_id in before), (predicate, live.before, hits)
            assert is_ == (incident_id in after), (predicate, live.now, hits)


async def test_due_dates_compare_as_instants_whatever_their_offset(people: People) -> None:
    # Given an incident due at 10:00 UTC, set by an edit written at UTC-05:30
    incident = await service.report_incident(actor=people.manager, description="Due soon")
    due = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    await service.edit_incident(
        actor=people.manager,
        incident_id=incident.id,
        changes=IncidentChanges(due_date=due.astimezone(timezone(timedelta(hours=-5.5)))),
    )

    async def listed(
        *, due_before: datetime | None = None, due_after: datetime | None = None
    ) -> bool:
        bounds = IncidentFilter(due_before=due_before, due_after=due_after)
        return await filtered_incidents(bounds).exists()

    # Then bounds written with any offset select it by the instant they name
    east = timezone(timedelta(hours=2))
    assert await listed(due_before=datetime(2026, 6, 1, 12, 30, tzinfo=east))  # 10:30 UTC
    assert not await listed(due_before=datetime(2026, 6, 1, 11, 30, tzinfo=east))  # 09:30 UTC
    assert await listed(due_after=datetime(2026, 6, 1, 11, 30, tzinfo=east))
    assert not await listed(due_after=datetime(2026, 6, 1, 10, 0, 1))  # no offset: UTC


#: A word of one demo description in ten: few enough matches that a page of its search with a
#: broad filter is read from them (``CHECKED_ON_MATCHES_UP_TO``), and one word (SQLite knows no
#: ``or``).
A_PROBLEM = "timeout"


async def _every_page(
    incident_filter: IncidentFilter, order: IncidentOrder
) -> tuple[list[int], int]:
    """The ids of the whole list, page after page, and its count."""
    ids: list[int] = []
    after = None
    while True:
        page = await list_incidents(
            incident_filter=incident_filter, order=order, first=7, after=after
        )
        ids += [int(item["id"]) for item in page.items]
        if not page.has_next_page:
            return ids, await page.total_count()
        after = page.cursors[-1]


async def test_a_search_with_a_broad_filter_lists_exactly_its_incidents(
    make_person: MakePerson,
) -> None:
    # Given demo incidents of every status, priority and due date, some holding the word
    await make_person(Role.MANAGER)
    await demo.fill(incidents=400, users=20, comments=0)
    now = datetime.now(UTC)
    found, _ = await _every_page(IncidentFilter(search=A_PROBLEM), IncidentOrder())
    rows = {
        int(r["id"]): r
        for r in await Incident.all().values(
            "id", "status", "priority", "due_date", "assigned_to_id"
        )
    }
    assignee = next(r["assigned_to_id"] for r in rows.values() if r["assigned_to_id"])
    open_statuses = {str(s) for s in OPEN_STATUSES}
    judged: dict[str, tuple[IncidentFilter, Callable[[dict[str, Any]], bool]]] = {
        "broad statuses": (
            IncidentFilter(
                search=A_PROBLEM, status=[IncidentStatus.NEW, IncidentStatus.IN_PROGRESS]
            ),
            lambda r: r["status"] in {"NEW", "IN_PROGRESS"},
        ),
        "one status": (
            IncidentFilter(search=A_PROBLEM, status=[IncidentStatus.ON_HOLD]),
            lambda r: r["status"] == "ON_HOLD",
        ),
        "overdue": (
            IncidentFilter(search=A_PROBLEM, overdue=True),
            lambda r: (
                r["due_date"] is not None and r["due_date"] < now and r["status"] in open_statuses
            ),
        ),
        "priority": (
            IncidentFilter(search=A_PROBLEM, priority=[Priority.HIGH]),
            lambda r: r["priority"] == "HIGH",
        ),
        "assignee": (
            IncidentFilter(search=A_PROBLEM, assigned_to_id=assignee),
            lambda r: r["assigned_to_id"] == assignee,
        ),
    }
    for name, (incident_filter, passes) in judged.items():
        for order in (IncidentOrder(), IncidentOrder(field=OrderField.STATUS)):
            # When the search is listed with the filter, page after page, and counted
            ids, count = await _every_page(incident_filter, order)
            # Then it lists exactly the matches that pass the filter, once each, and counts them
            expected = {i for i in found if passes(rows[i])}
            assert sorted(ids) == sorted(expected), (name, order)
            assert count == len(expected), (name, order)
    assert found, "the word is in some incidents"
