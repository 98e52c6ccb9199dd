"""On PostgreSQL, word search goes through the GIN index `incident_search_idx` on the stored
`search_vector`, which a trigger keeps equal to the document's words as changes append to it."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges, NewReference
from gql_support.incidents.filters import IncidentFilter
from gql_support.incidents.queries import filtered_incidents, list_incidents
from gql_support.settings import Settings
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
    assert "USING gin (search_vector)" in definition


async def test_the_stored_vector_holds_the_words_of_the_whole_document(
    make_person: MakePerson,
) -> None:
    # Given an incident reported, commented twice, given a reference, and one whose document
    # is rewritten rather than appended to
    manager = await make_person(Role.MANAGER)
    first = await service.report_incident(actor=manager.user, description="Printer jams daily")
    for text in ("L'imprimante chauffe", "Toner replaced, still failing"):
        await service.add_comment(actor=manager.user, incident_id=first.id, body=text)
    await service.edit_incident(
        actor=manager.user,
        incident_id=first.id,
        changes=IncidentChanges(references=[NewReference(label="Runbook: paper path")]),
    )
    second = await service.report_incident(actor=manager.user, description="Scanner is slow")
    client = connections.get("default")
    await client.execute_query(
        "UPDATE incident SET search_document = 'Keyboard missing keys' WHERE id = $1",
        [second.id],
    )
    # Then each stored vector holds exactly the lexemes of its whole document
    _, rows = await client.execute_query(
        "SELECT tsvector_to_array(search_vector) AS stored, tsvector_to_array("
        "to_tsvector('english', search_document) || to_tsvector('french', search_document)"
        ") AS computed FROM incident ORDER BY id"
    )
    assert len(rows) == 2
    for row in rows:
        assert sorted(row["stored"]) == sorted(row["computed"])
    assert "toner" in rows[0]["stored"]
    assert "keyboard" in rows[1]["stored"]


@pytest.mark.parametrize("words", ["printer", "imprimantes", "printers jam"])
async def test_word_search_uses_the_index(incidents: None, words: str) -> None:
    # Given the word filter on its own
    query = filtered_incidents(IncidentFilter(search=words))
    # Then its plan reads incident_search_idx, not the whole table
    plan = await explain(query.sql(params_inline=True))
    assert "incident_search_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_the_dashboard_search_never_parses_documents_again(incidents: None) -> None:
    # Given the dashboard's filtered query (search combined with another filter)
    query = filtered_incidents(IncidentFilter(search="printer", overdue=True))
    plan = await explain(query.sql(params_inline=True))
    # Then whichever index the planner starts from, the words are matched against the stored
    # vector: no document is parsed again per row (288 ms at 100k incidents when it was)
    assert "search_vector @@" in plan, plan
    assert "to_tsvector" not in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_counting_search_results_uses_the_index(incidents: None) -> None:
    query = filtered_incidents(IncidentFilter(search="imprimante"))
    plan = await explain(query.count().sql(params_inline=True))
    assert "incident_search_idx" in plan, plan


async def test_a_search_statement_runs_in_one_process_without_jit(settings: Settings) -> None:
    # Given the function whose declared cost steers a search's plan (migrations 0011, 0012)
    client = connections.get("default")
    _, rows = await client.execute_query(
        "SELECT proparallel::text AS parallel, procost::int AS cost FROM pg_proc"
        " WHERE proname = 'incident_search_read'"
    )
    # Then it keeps the statement in one process (workers' start-up cost more than a page's
    # rows) and weighs each row it visits at 1,000
    assert [(row["parallel"], row["cost"]) for row in rows] == [("u", 1000)]
    # And the pool's connections do not compile expressions with JIT
    _, rows = await client.execute_query("SHOW jit")
    assert rows[0]["jit"] == "off"


async def test_a_search_page_orders_and_filters_as_the_dashboard_asks(
    make_person: MakePerson,
) -> None:
    # Given incidents matching a word among others, with different priorities
    reporter = await make_person(Role.USER)
    for n in range(6):
        words = "printer" if n % 2 else "scanner"
        await service.report_incident(actor=reporter.user, description=f"{words} {n} is stuck")
    # When the dashboard lists the word's incidents by number, two by two
    seen: list[int] = []
    after = None
    while True:
        page = await list_incidents(
            incident_filter=IncidentFilter(search="printers"), first=2, after=after
        )
        seen += [row["number"] for row in page.items]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    # Then it gets exactly the matching ones, newest first, each once
    assert seen == [6, 4, 2]
