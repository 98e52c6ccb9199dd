"""One error boundary: a domain error reaches the client with its code wherever it is raised
(a mutation's payload, a query, a nested field, a subscription), never as "Unexpected error."."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from gql_support.accounts.models import Role
from gql_support.api.errors import UserErrors
from gql_support.api.ids import to_global_id
from gql_support.api.schema import build_schema
from gql_support.incidents import service
from tests.conftest import GraphQLClient, MakePerson

COMMENTS_AFTER = """
query Comments($id: ID!, $after: String) {
  incident(id: $id) { comments(first: 5, after: $after) { nodes { body } } }
}
"""
HISTORY_FIRST = """
query History($id: ID!, $first: Int) {
  incident(id: $id) { history(first: $first) { nodes { kind } } }
}
"""
UPDATES = """
subscription Updates($filter: IncidentFilter) {
  incidentUpdates(filter: $filter) { kind }
}
"""
WATCH = """
mutation Watch($input: WatchIncidentInput!) {
  watchIncident(input: $input) { incident { id } errors { code field } clientMutationId }
}
"""


@pytest.fixture
def server_url(live_server: str) -> str:
    return live_server.replace("http://", "ws://", 1) + "/graphql"


def test_every_mutation_puts_domain_errors_in_its_payload() -> None:
    # Given the schema's mutations
    mutation_type = build_schema()._schema.mutation_type
    assert mutation_type is not None
    for name, field in mutation_type.fields.items():
        # Then each resolves through the one boundary, into a payload with errors
        strawberry_field = field.extensions["strawberry-definition"]
        assert any(isinstance(e, UserErrors) for e in strawberry_field.extensions), name
        payload = field.type.of_type if hasattr(field.type, "of_type") else field.type
        assert "errors" in payload.fields, name


async def test_a_refused_mutation_echoes_the_client_mutation_id(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    missing = to_global_id("Incident", 999_999)

    data = await gql.execute(
        WATCH,
        {"input": {"incidentId": missing, "watching": True, "clientMutationId": "w-1"}},
        as_=user,
    )

    assert data["watchIncident"] == {
        "incident": None,
        "errors": [{"code": "NOT_FOUND", "field": ["input", "incidentId"]}],
        "clientMutationId": "w-1",
    }


@pytest.mark.parametrize(
    ("query", "variables"),
    [(COMMENTS_AFTER, {"after": "!!!"}), (HISTORY_FIRST, {"first": -1})],
    ids=["garbage-cursor", "negative-first"],
)
async def test_bad_arguments_of_a_nested_field_are_coded_errors(
    gql: GraphQLClient, make_person: MakePerson, query: str, variables: dict[str, Any]
) -> None:
    # Given an incident
    user = await make_person(Role.USER)
    incident = await service.report_incident(actor=user.user, description="Printer jams")

    # When a nested list is asked for with a bad argument
    response = await gql.post(
        query, {"id": to_global_id("Incident", incident.id), **variables}, as_=user
    )

    # Then the error says what is wrong, with its code, rather than "Unexpected error."
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["INVALID_INPUT"], errors
    assert errors[0]["message"] != "Unexpected error."


async def test_a_subscription_with_a_bad_filter_is_a_coded_error(
    server_url: str, make_person: MakePerson
) -> None:
    # Given a subscriber whose filter names an incident where a user belongs
    user = await make_person(Role.USER)
    async with websockets.connect(
        server_url, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        variables = {"filter": {"assignedToId": to_global_id("Incident", 1)}}
        subscribe = {"query": UPDATES, "variables": variables}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))

        # Then the subscription ends with the domain error's code
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))
            if message["type"] not in {"ping", "pong"}:
                break
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], message
