"""Searches are bounded: a search longer than a person types is refused before any SQL runs,
on the dashboard list, its figures, its subscription and the people pickers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets import Subprotocol

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.search import MAX_SEARCH_CHARACTERS, MAX_SEARCH_WORDS
from tests.api.test_query_count import AUTH_TABLE, statements
from tests.conftest import GraphQLClient, MakePerson

INCIDENTS = """
query Incidents($search: String!) {
  incidents(filter: {search: $search}) { totalCount nodes { number } }
}
"""
DASHBOARD = "query Dashboard($search: String!) { dashboard(filter: {search: $search}) { total } }"
USERS = "query Users($search: String!) { users(search: $search) { name } }"
UPDATES = """
subscription Updates($search: String!) {
  incidentUpdates(filter: {search: $search}) { kind }
}
"""
#: What five parallel requests sent to hold every PostgreSQL connection for a minute.
HUGE = " ".join(f"word{n}" for n in range(200_000))


async def _refusal(gql: GraphQLClient, query: str, search: str, as_: Any) -> tuple[Any, list[str]]:
    """The errors of one request, and the statements it ran (besides the token look-up)."""
    with statements() as sql:
        response = await gql.post(query, {"search": search}, as_=as_)
    assert response.status_code == 200, response.text
    return response.json(), [s for s in sql if AUTH_TABLE not in s]


@pytest.mark.parametrize(
    "query", [INCIDENTS, DASHBOARD, USERS], ids=["incidents", "dashboard", "users"]
)
async def test_a_200000_word_search_is_refused_before_any_sql(
    gql: GraphQLClient, make_person: MakePerson, query: str
) -> None:
    user = await make_person(Role.USER)
    await service.report_incident(actor=user.user, description="Printer jam")

    body, sql = await _refusal(gql, query, HUGE, user)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT", error
    assert "search" in error["message"]
    assert sql == []


async def test_searches_at_the_limits_are_accepted_and_one_more_word_is_not(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    await service.report_incident(actor=user.user, description="Printer jam on floor two")
    words = ["jam"] * MAX_SEARCH_WORDS
    longest = "jam " + "j" * (MAX_SEARCH_CHARACTERS - 4)

    accepted = await gql.execute(INCIDENTS, {"search": " ".join(words)}, as_=user)
    assert accepted["incidents"]["nodes"] == [{"number": 1}]
    accepted = await gql.execute(INCIDENTS, {"search": longest}, as_=user)
    assert accepted["incidents"]["totalCount"] == 0

    for search in (" ".join([*words, "jam"]), longest + "j"):
        body, _ = await _refusal(gql, INCIDENTS, search, user)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"]
        assert body["errors"][0]["extensions"]["field"] == ["filter", "search"]


async def test_a_subscription_with_a_huge_search_is_refused_on_subscribing(
    live_server: str, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    async with websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket:
        init = {"authorization": f"Bearer {user.token}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        payload = {"query": UPDATES, "variables": {"search": HUGE}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

        message = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))

    assert message["type"] in {"error", "next"}, message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["INVALID_INPUT"]
