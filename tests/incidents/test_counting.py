"""A list's count: exact, from the counter when nothing is filtered, and PostgreSQL's estimate,
said to be one, for a word search too frequent to count one by one."""

from __future__ import annotations

import pytest

from gql_support import demo
from gql_support.accounts.models import Role
from gql_support.incidents.counting import EXACT_UP_TO
from gql_support.incidents.filters import IncidentFilter
from gql_support.incidents.models import Incident, IncidentStatus, IncidentType
from gql_support.incidents.queries import list_incidents
from tests.conftest import MakePerson

#: One subject word of each demo description: together, every incident.
EVERY_SUBJECT = " or ".join(
    ("forecast", "invoice", "budget", "payroll", "supplier", "intercompany", "cost", "expense",
     "consolidation", "bank")
)  # fmt: skip


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Estimates come from PostgreSQL's planner."""
    return str(request.param)


async def test_counts_are_exact_unless_a_search_is_too_frequent(make_person: MakePerson) -> None:
    # Given more incidents than are counted one by one
    await make_person(Role.MANAGER)
    total = EXACT_UP_TO + 2000
    await demo.fill(incidents=total, users=60, comments=0)
    # When the whole list, a rare word and a word in every incident are counted
    everything = await list_incidents(first=1)
    rare = await list_incidents(incident_filter=IncidentFilter(search=demo.TOPICS[5]), first=1)
    frequent = await list_incidents(incident_filter=IncidentFilter(search=EVERY_SUBJECT), first=1)
    # Then the first two are exact, and the third is an estimate that says it is one
    assert (await everything.total_count(), await everything.total_count_is_estimate()) == (
        total,
        False,
    )
    descriptions = await Incident.all().values_list("description", flat=True)
    assert await rare.total_count() == sum(demo.TOPICS[5] in str(d) for d in descriptions)
    assert await rare.total_count_is_estimate() is False
    assert await frequent.total_count_is_estimate() is True
    assert 0.8 * total < await frequent.total_count() < 1.2 * total


async def test_a_frequent_search_with_a_filter_is_estimated_and_a_rare_one_counted(
    make_person: MakePerson,
) -> None:
    # Given more incidents than are counted one by one
    await make_person(Role.MANAGER)
    total = EXACT_UP_TO + 2000
    await demo.fill(incidents=total, users=60, comments=0)
    # When a word in every incident and a rare word are searched with a filter: one that keeps
    # every incident (every type) and one that keeps a share of them (a status)
    frequent = await list_incidents(
        incident_filter=IncidentFilter(search=EVERY_SUBJECT, type=list(IncidentType)), first=1
    )
    rare = await list_incidents(
        incident_filter=IncidentFilter(search=demo.TOPICS[5], status=[IncidentStatus.NEW]),
        first=1,
    )
    # Then the frequent one is PostgreSQL's estimate, and says so
    assert await frequent.total_count_is_estimate() is True
    assert 0.8 * total < await frequent.total_count() < 1.2 * total
    # And the rare one is exact
    found = await Incident.filter(status=IncidentStatus.NEW).values_list("description", flat=True)
    assert await rare.total_count() == sum(demo.TOPICS[5] in str(d) for d in found)
    assert await rare.total_count_is_estimate() is False
