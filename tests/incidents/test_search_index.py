"""On PostgreSQL, word search goes through the GIN index `incident_search_idx`."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.filters import IncidentFilter
from gql_support.incidents.queries import filtered_incidents
from tests.conftest import MakePerson


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Full text and its index exist on PostgreSQL only."""
    return str(request.param)


async def explain(sql: str) -> str:
    """The plan PostgreSQL picks for the query when any other path beats a sequential scan."""
    async with in_transaction() as connection:
        await connection.execute_script("SET LOCAL enable_seqscan = off")
        _, rows = await connection.execute_query(f"EXPLAIN {sql}")
    return "\n".join(row["QUERY PLAN"] for row in rows)


@pytest.fixture
async def incidents(make_person: MakePerson) -> None:
    reporter = await make_person(Role.USER)
    for n in range(20):
        await service.report_incident(actor=reporter.user, description=f"Printer {n} jams")
    await service.report_incident(actor=reporter.user, description="L'imprimante est en panne")


async def test_the_index_exists_as_gin_on_the_search_vector(incidents: None) -> None:
    _, rows = await connections.get("default").execute_query(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'incident_search_idx'"
    )
    assert len(rows) == 1
    definition = rows[0]["indexdef"]
    assert "USING gin" in definition
    assert "to_tsvector('english'::regconfig, search_document)" in definition
    assert "to_tsvector('french'::regconfig, search_document)" in definition


@pytest.mark.parametrize("words", ["printer", "imprimantes", "printers jam"])
async def test_word_search_uses_the_index(incidents: None, words: str) -> None:
    # Given the word filter on its own
    query = filtered_incidents(IncidentFilter(search=words))
    # Then its plan reads incident_search_idx, not the whole table
    plan = await explain(query.sql(params_inline=True))
    assert "incident_search_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_the_dashboard_search_uses_the_index(incidents: None) -> None:
    # Given the dashboard's filtered query (search combined with another filter)
    query = filtered_incidents(IncidentFilter(search="printer", overdue=True))
    plan = await explain(query.sql(params_inline=True))
    assert "incident_search_idx" in plan, plan


async def test_counting_search_results_uses_the_index(incidents: None) -> None:
    query = filtered_incidents(IncidentFilter(search="imprimante"))
    plan = await explain(query.count().sql(params_inline=True))
    assert "incident_search_idx" in plan, plan
