"""Pages of comments and history read only the rows they return: ``comments(first: 1)`` on an
incident with 100 comments of 1 KiB reads two rows (the page and the one that says more
follow), alone or for a whole dashboard page of incidents; ``totalCount`` is a count."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tortoise import connections

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.models import Incident
from tests.api.test_query_count import query_log
from tests.conftest import GraphQLClient, MakePerson, Person

CONNECTION = """
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes { body }
"""
INCIDENT = f"""
query Incident($number: Int!, $first: Int, $after: String) {{
  incident(number: $number) {{
    comments(first: $first, after: $after) {{ {CONNECTION} }}
    history(first: $first, after: $after) {{ totalCount nodes {{ kind }} }}
  }}
}}
"""
INCIDENTS = f"""
query Incidents($first: Int, $after: String) {{
  incidents(orderBy: {{field: NUMBER, direction: ASC}}) {{
    nodes {{
      number
      comments(first: $first, after: $after) {{ {CONNECTION} }}
      history(first: $first, after: $after) {{ totalCount nodes {{ kind }} }}
    }}
  }}
}}
"""
COMMENTS = 100
#: A comment of 1 KiB.
BODY = "x" * 1023


class _Executed(logging.Handler):
    """Every statement Tortoise sends, with its parameters."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[tuple[str, list[Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2:
            sql, values = record.args
            if isinstance(sql, str) and sql.lstrip().upper().startswith("SELECT"):
                self.statements.append((sql, list(values) if isinstance(values, list) else []))


@contextmanager
def _selects() -> Iterator[list[tuple[str, list[Any]]]]:
    with query_log(_Executed()) as handler:
        yield handler.statements


async def _rows_read(statements: list[tuple[str, list[Any]]], table: str) -> int:
    """How many rows the statements that read ``table`` (and count nothing) returned: run
    again, as they ran, on the same database."""
    total = 0
    for sql, values in statements:
        if f'FROM "{table}"' in sql and "COUNT(" not in sql.upper():
            _, rows = await connections.get("default").execute_query(sql, values)
            total += len(rows)
    return total


@pytest.fixture
async def reporter(make_person: MakePerson) -> Person:
    """Two incidents with 100 comments of 1 KiB each."""
    person = await make_person(Role.USER)
    for number in (1, 2):
        incident = await service.report_incident(actor=person.user, description=f"Slow {number}")
        for _ in range(COMMENTS):
            await service.add_comment(actor=person.user, incident_id=incident.id, body=BODY)
    return person


async def test_one_comment_of_one_incident_reads_two_rows(
    gql: GraphQLClient, reporter: Person
) -> None:
    with _selects() as statements:
        data = await gql.execute(INCIDENT, {"number": 1, "first": 1}, as_=reporter)

    comments = data["incident"]["comments"]
    assert comments["totalCount"] == COMMENTS
    assert comments["nodes"] == [{"body": BODY}]
    assert comments["pageInfo"]["hasNextPage"] is True
    assert data["incident"]["history"]["totalCount"] == COMMENTS + 1
    assert data["incident"]["history"]["nodes"] == [{"kind": "REPORTED"}]
    assert await _rows_read(statements, "comment") == 2
    assert await _rows_read(statements, "incident_event") == 2


async def test_one_comment_of_each_incident_on_a_page_reads_two_rows_each(
    gql: GraphQLClient, reporter: Person
) -> None:
    with _selects() as statements:
        data = await gql.execute(INCIDENTS, {"first": 1}, as_=reporter)

    for node in data["incidents"]["nodes"]:
        assert node["comments"]["totalCount"] == COMMENTS
        assert node["comments"]["nodes"] == [{"body": BODY}]
        assert node["comments"]["pageInfo"]["hasNextPage"] is True
        assert node["history"]["nodes"] == [{"kind": "REPORTED"}]
    assert await _rows_read(statements, "comment") == 2 * 2
    assert await _rows_read(statements, "incident_event") == 2 * 2


async def test_pages_follow_each_other_to_the_last_comment(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given two incidents with three comments each, interleaved
    person = await make_person(Role.USER)
    incidents: list[Incident] = []
    for number in (1, 2):
        incidents.append(
            await service.report_incident(actor=person.user, description=f"Slow {number}")
        )
    for n in range(3):
        for number, incident in enumerate(incidents, start=1):
            await service.add_comment(
                actor=person.user, incident_id=incident.id, body=f"{number}.{n}"
            )

    # When each is paged two by two, alone and on the dashboard
    for number in (1, 2):
        first = await gql.execute(INCIDENT, {"number": number, "first": 2}, as_=person)
        page = first["incident"]["comments"]
        assert [n["body"] for n in page["nodes"]] == [f"{number}.0", f"{number}.1"]
        assert page["pageInfo"]["hasNextPage"] is True
        after = {"number": number, "first": 2, "after": page["pageInfo"]["endCursor"]}
        second = (await gql.execute(INCIDENT, after, as_=person))["incident"]["comments"]
        assert [n["body"] for n in second["nodes"]] == [f"{number}.2"]
        assert second["pageInfo"]["hasNextPage"] is False

    listed = await gql.execute(INCIDENTS, {"first": 2}, as_=person)
    assert [[c["body"] for c in n["comments"]["nodes"]] for n in listed["incidents"]["nodes"]] == [
        ["1.0", "1.1"],
        ["2.0", "2.1"],
    ]
    # The cursor of incident 1's second comment: incident 2's comments after it, by id
    cursor = listed["incidents"]["nodes"][0]["comments"]["pageInfo"]["endCursor"]
    later = await gql.execute(INCIDENTS, {"first": 5, "after": cursor}, as_=person)
    assert [[c["body"] for c in n["comments"]["nodes"]] for n in later["incidents"]["nodes"]] == [
        ["1.2"],
        ["2.1", "2.2"],
    ]
