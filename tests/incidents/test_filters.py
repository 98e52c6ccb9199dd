"""One filter language: for any incidents and any dashboard filter, the incidents the query lists
are exactly those the live updates judge to pass, before a change (from the change log's view)
and after it, search included, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

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
    Impact,
    Incident,
    IncidentStatus,
    IncidentType,
    Priority,
    Urgency,
)
from gql_support.incidents.queries import (
    filtered_incidents,
    incidents_where,
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
    return {int(row["id"]) for row in rows}


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
