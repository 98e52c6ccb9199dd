"""Values out of range, over HTTP on both databases: dates the database cannot give back, naive
dates, ids and cursors beyond the integer columns, NUL and lone surrogates, overlong emails,
negative page sizes and versions. Each is refused with a code, and nothing is stored."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from gql_support.accounts.models import Role
from gql_support.api.ids import to_global_id
from tests.api.hostile import assert_client_error_only, post_raw
from tests.api.test_subscriptions import _subscribe
from tests.conftest import GraphQLClient, MakePerson, Person
from tests.documents import ADD_COMMENT, REPORT, SAVE, SNAPSHOT

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token errors { code message field } }
}
"""

USERS = """
query Users($search: String, $first: Int) {
  users(search: $search, first: $first) { email }
}
"""

INCIDENTS = """
query Incidents($filter: IncidentFilter, $orderBy: IncidentOrder, $first: Int, $after: String) {
  incidents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    nodes { number }
  }
}
"""

DASHBOARD = """
query Dashboard($filter: IncidentFilter) { dashboard(filter: $filter) { total } }
"""

INCIDENT = """
query Incident($id: ID) { incident(id: $id) { number } }
"""

NODE = """
query Node($id: ID!) { node(id: $id) { id } }
"""

# Two aliases whose pages the same DataLoader batch reads: only the bad one may fail.
COMMENTS = """
query Comments($id: ID, $first: Int, $after: String) {
  bad: incident(id: $id) { comments(first: $first, after: $after) { nodes { body } } }
  good: incident(id: $id) { comments(first: 1) { nodes { body } } }
}
"""

HISTORY = """
query History($id: ID, $first: Int, $after: String) {
  bad: incident(id: $id) { history(first: $first, after: $after) { nodes { kind } } }
  good: incident(id: $id) { history(first: 1) { nodes { kind } } }
}
"""

DASHBOARD_UPDATES = """
subscription Figures($filter: IncidentFilter) { dashboardUpdates(filter: $filter) { total } }
"""

SURROGATE = "\ud800"
NUL = "a\x00b"
#: Beyond PostgreSQL's integer (and SQLite's 64-bit INTEGER too).
HUGE = 10**30


def encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def cursor(*items: Any) -> str:
    return encode(json.dumps(list(items)))


async def _manager_and_incident(gql: GraphQLClient, make_person: MakePerson) -> tuple[Person, str]:
    manager = await make_person(Role.MANAGER)
    data = await gql.execute(REPORT, {"input": {"description": "Printer on fire"}}, as_=manager)
    incident_id: str = data["reportIncident"]["incident"]["id"]
    await gql.execute(
        ADD_COMMENT, {"input": {"incidentId": incident_id, "body": "Hot"}}, as_=manager
    )
    return manager, incident_id


def _user_errors(body: dict[str, Any], field: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = body["data"][field]["errors"]
    return errors


def _query_error(body: dict[str, Any]) -> dict[str, Any]:
    """The one coded GraphQL error of a query."""
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


@pytest.mark.parametrize(
    "due_date",
    [
        "9999-12-31T23:59:59-14:00",  # stored, then unreadable on SQLite: "date value out of range"
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59Z",
        "9001-01-01T00:00:00Z",
    ],
)
async def test_a_due_date_out_of_range_is_refused_and_not_stored(
    gql: GraphQLClient, make_person: MakePerson, due_date: str
) -> None:
    # Given an incident
    manager, incident_id = await _manager_and_incident(gql, make_person)
    before = await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager)

    # When its due date is set far outside the range, on Save/Send and on a new report
    saved = assert_client_error_only(
        await post_raw(
            gql, SAVE, {"input": {"incidentId": incident_id, "dueDate": due_date}}, as_=manager
        )
    )
    reported = assert_client_error_only(
        await post_raw(
            gql, REPORT, {"input": {"description": "x", "dueDate": due_date}}, as_=manager
        )
    )

    # Then both are refused, naming the field, and the incident still reads as before
    for body, field in ((saved, "saveIncident"), (reported, "reportIncident")):
        [error] = _user_errors(body, field)
        assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "dueDate"])
        assert "2000-01-01" in error["message"]
    assert await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager) == before
    assert (await gql.execute(DASHBOARD, as_=manager))["dashboard"]["total"] == 1


@pytest.mark.parametrize("due_date", ["2000-01-01T00:00:00Z", "9000-12-31T23:59:59+00:00"])
async def test_the_ends_of_the_range_are_accepted(
    gql: GraphQLClient, make_person: MakePerson, due_date: str
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    data = await gql.execute(
        SAVE, {"input": {"incidentId": incident_id, "dueDate": due_date}}, as_=manager
    )

    assert data["saveIncident"]["errors"] == []
    assert (
        await gql.execute(
            INCIDENTS, {"orderBy": {"field": "DUE_DATE", "direction": "ASC"}}, as_=manager
        )
    )["incidents"]["nodes"] == [{"number": 1}]


async def test_a_naive_due_date_is_refused(gql: GraphQLClient, make_person: MakePerson) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(
            gql,
            SAVE,
            {"input": {"incidentId": incident_id, "dueDate": "2030-01-01T00:00:00"}},
            as_=manager,
        )
    )

    [error] = _user_errors(body, "saveIncident")
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "dueDate"])
    assert "UTC offset" in error["message"]


@pytest.mark.parametrize("document", [INCIDENTS, DASHBOARD])
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("dueBefore", "2030-01-01T00:00:00", "UTC offset"),  # "Unexpected error." on SQLite
        ("dueAfter", "2030-01-01T00:00:00", "UTC offset"),
        ("dueBefore", "0001-01-01T00:00:00+14:00", "2000-01-01"),  # on PostgreSQL
        ("dueAfter", "9999-12-31T23:59:59-14:00", "2000-01-01"),
    ],
)
async def test_a_filter_date_must_have_an_offset_and_lie_in_range(
    gql: GraphQLClient, make_person: MakePerson, document: str, field: str, value: str, words: str
) -> None:
    manager, _ = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(gql, document, {"filter": {field: value}}, as_=manager)
    )

    error = _query_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["filter", field]}
    assert words in error["message"]


@pytest.mark.parametrize("pk", [str(HUGE), str(2**31), "-1", "0", " 1", "+1", "1_0", "\u0661"])
async def test_an_id_beyond_the_integer_columns_names_nothing(
    gql: GraphQLClient, make_person: MakePerson, pk: str
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    read = assert_client_error_only(
        await post_raw(gql, INCIDENT, {"id": encode(f"Incident:{pk}")}, as_=manager)
    )
    node = assert_client_error_only(
        await post_raw(gql, NODE, {"id": encode(f"Comment:{pk}")}, as_=manager)
    )
    saved = assert_client_error_only(
        await post_raw(gql, SAVE, {"input": {"incidentId": encode(f"Incident:{pk}")}}, as_=manager)
    )
    assigned = assert_client_error_only(
        await post_raw(
            gql,
            SAVE,
            {"input": {"incidentId": incident_id, "assignedToId": encode(f"User:{pk}")}},
            as_=manager,
        )
    )

    assert read == {"data": {"incident": None}}
    assert node == {"data": {"node": None}}
    [error] = _user_errors(saved, "saveIncident")
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "incidentId"])
    [error] = _user_errors(assigned, "saveIncident")
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "assignedToId"])


@pytest.mark.parametrize(
    ("order", "after"),
    [
        ("NUMBER", cursor("NUMBER", HUGE, 1)),
        ("NUMBER", cursor("NUMBER", 1, HUGE)),
        ("NUMBER", cursor("NUMBER", -(2**40), 1)),
        ("PRIORITY", cursor("PRIORITY", 40_000, 1)),  # a SMALLINT column on PostgreSQL
        ("NUMBER", cursor("NUMBER", 1.5, 1)),
        ("CREATED_AT", cursor("CREATED_AT", "2030-01-01T00:00:00", 1)),  # naive
        ("CREATED_AT", cursor("CREATED_AT", "0001-01-01T00:00:00+14:00", 1)),
        ("DUE_DATE", cursor("DUE_DATE", "9999-12-31T23:59:59-14:00", 1)),
        ("DUE_DATE", cursor("DUE_DATE", None, 1)),
    ],
)
async def test_a_dashboard_cursor_out_of_range_is_refused(
    gql: GraphQLClient, make_person: MakePerson, order: str, after: str
) -> None:
    manager, _ = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(
            gql,
            INCIDENTS,
            {"orderBy": {"field": order, "direction": "ASC"}, "after": after},
            as_=manager,
        )
    )

    assert _query_error(body)["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}


@pytest.mark.parametrize("document", [COMMENTS, HISTORY])
@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": -1}, "first"),
        ({"after": cursor(HUGE)}, "after"),
        ({"after": cursor("1")}, "after"),
        ({"after": cursor(None)}, "after"),
        ({"after": "not a cursor"}, "after"),
    ],
)
async def test_a_bad_page_of_comments_or_history_is_refused_with_a_code(
    gql: GraphQLClient,
    make_person: MakePerson,
    document: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(gql, document, {"id": incident_id, **variables}, as_=manager)
    )

    # Then only the bad page fails: the good one, read in the same batch, still arrives
    error = _query_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": [field]}
    assert body["data"]["bad"] is None
    [good] = body["data"]["good"].values()
    assert len(good["nodes"]) == 1


async def test_a_negative_or_huge_page_size_is_a_client_error(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    manager, _ = await _manager_and_incident(gql, make_person)

    negative_users = assert_client_error_only(
        await post_raw(gql, USERS, {"first": -1}, as_=manager)
    )
    negative_incidents = assert_client_error_only(
        await post_raw(gql, INCIDENTS, {"first": -1}, as_=manager)
    )
    largest = assert_client_error_only(
        await post_raw(gql, INCIDENTS, {"first": 2**31 - 1}, as_=manager)
    )
    beyond = assert_client_error_only(await post_raw(gql, INCIDENTS, {"first": 2**31}, as_=manager))

    for body in (negative_users, negative_incidents):
        assert _query_error(body)["extensions"] == {"code": "INVALID_INPUT", "field": ["first"]}
    assert largest["data"]["incidents"]["nodes"] == [{"number": 1}]
    assert "non 32-bit signed integer" in _query_error(beyond)["message"]


@pytest.mark.parametrize("version", [-1, 0])
async def test_a_negative_expected_version_is_a_conflict(
    gql: GraphQLClient, make_person: MakePerson, version: int
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(
            gql,
            SAVE,
            {"input": {"incidentId": incident_id, "expectedVersion": version, "task": "t"}},
            as_=manager,
        )
    )

    [error] = _user_errors(body, "saveIncident")
    assert (error["code"], error["field"]) == ("VERSION_CONFLICT", ["input", "expectedVersion"])


async def test_a_huge_expected_version_is_refused_before_any_resolver(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)
    before = await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager)

    body = assert_client_error_only(
        await post_raw(
            gql,
            SAVE,
            {"input": {"incidentId": incident_id, "expectedVersion": HUGE, "task": "t"}},
            as_=manager,
        )
    )

    assert "data" not in body
    assert "non 32-bit signed integer" in _query_error(body)["message"]
    assert await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager) == before


@pytest.mark.parametrize("text", [SURROGATE, NUL, "ok " + SURROGATE + " ok"])
@pytest.mark.parametrize(
    ("document", "payload", "field"),
    [
        (SAVE, "saveIncident", "task"),
        (SAVE, "saveIncident", "comment"),
        (REPORT, "reportIncident", "description"),
        (ADD_COMMENT, "addComment", "body"),
    ],
)
async def test_nul_and_lone_surrogates_in_text_are_refused(
    gql: GraphQLClient,
    make_person: MakePerson,
    text: str,
    document: str,
    payload: str,
    field: str,
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)
    before = await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager)
    base = {"description": "x"} if document is REPORT else {"incidentId": incident_id}
    if document is ADD_COMMENT:
        base["body"] = "x"

    body = assert_client_error_only(
        await post_raw(gql, document, {"input": {**base, field: text}}, as_=manager)
    )

    [error] = _user_errors(body, payload)
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", field])
    assert await gql.execute(SNAPSHOT, {"id": incident_id}, as_=manager) == before


@pytest.mark.parametrize("text", [SURROGATE, NUL])
async def test_nul_and_lone_surrogates_in_a_reference_are_refused(
    gql: GraphQLClient, make_person: MakePerson, text: str
) -> None:
    manager, incident_id = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(
            gql,
            SAVE,
            {"input": {"incidentId": incident_id, "references": [{"label": text}]}},
            as_=manager,
        )
    )

    [error] = _user_errors(body, "saveIncident")
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "references"])


@pytest.mark.parametrize("text", [SURROGATE, NUL])
async def test_nul_and_lone_surrogates_in_a_search_are_refused(
    gql: GraphQLClient, make_person: MakePerson, text: str
) -> None:
    manager, _ = await _manager_and_incident(gql, make_person)

    users = assert_client_error_only(await post_raw(gql, USERS, {"search": text}, as_=manager))
    incidents = assert_client_error_only(
        await post_raw(gql, INCIDENTS, {"filter": {"search": text}}, as_=manager)
    )

    assert _query_error(users)["extensions"] == {"code": "INVALID_INPUT", "field": ["search"]}
    assert _query_error(incidents)["extensions"] == {
        "code": "INVALID_INPUT",
        "field": ["filter", "search"],
    }


async def test_a_lone_surrogate_quoted_back_in_an_error_is_answered(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a status filter that no enum value can be: graphql-core's error quotes it
    manager, _ = await _manager_and_incident(gql, make_person)

    body = assert_client_error_only(
        await post_raw(gql, INCIDENTS, {"filter": {"status": [SURROGATE]}}, as_=manager)
    )

    # Then the answer is JSON that says which value was refused, as the client wrote it
    [error] = body["errors"]
    assert SURROGATE in error["message"]
    assert "data" not in body


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("a" * 250 + "@example.com", "demo-password", "email"),  # 262 characters
        (SURROGATE + "@example.com", "demo-password", "email"),
        ("a\x00@example.com", "demo-password", "email"),
        ("user1@example.com", SURROGATE, "password"),
    ],
)
async def test_login_refuses_what_cannot_be_an_email_or_a_password(
    gql: GraphQLClient, make_person: MakePerson, email: str, password: str, field: str
) -> None:
    await make_person(Role.USER, password="demo-password")

    body = assert_client_error_only(
        await post_raw(gql, LOGIN, {"input": {"email": email, "password": password}}, as_=None)
    )

    [error] = _user_errors(body, "login")
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", field])
    assert body["data"]["login"]["token"] is None


async def test_a_user_search_longer_than_any_email_is_refused(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER)

    longest = assert_client_error_only(
        await post_raw(gql, USERS, {"search": "m" * 254}, as_=manager)
    )
    beyond = assert_client_error_only(
        await post_raw(gql, USERS, {"search": "m" * 255}, as_=manager)
    )

    assert longest == {"data": {"users": []}}
    assert _query_error(beyond)["extensions"] == {"code": "INVALID_INPUT", "field": ["search"]}


async def test_a_real_id_still_reads(gql: GraphQLClient, make_person: MakePerson) -> None:
    # The stricter parsing of IDs keeps every ID the server hands out.
    manager, incident_id = await _manager_and_incident(gql, make_person)

    read = await gql.execute(INCIDENT, {"id": incident_id}, as_=manager)
    node = await gql.execute(NODE, {"id": to_global_id("User", manager.user.id)}, as_=manager)

    assert read == {"incident": {"number": 1}}
    assert node == {"node": {"id": manager.id}}


@pytest.mark.parametrize(
    ("field", "value"),
    [("dueBefore", "2030-01-01T00:00:00"), ("dueAfter", "0001-01-01T00:00:00+14:00")],
)
async def test_a_subscription_filter_out_of_range_is_refused_with_a_code(
    live_server: str, make_person: MakePerson, field: str, value: str
) -> None:
    # The subscriptions read their filter through the same checks as the queries.
    manager = await make_person(Role.MANAGER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"

    socket = await _subscribe(url, manager.token, DASHBOARD_UPDATES, {"filter": {field: value}})
    message = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))
    await socket.close()

    assert message["type"] == "next", message
    [error] = message["payload"]["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": ["filter", field]}
