"""Limits before work: bodies, documents and queries over their limits are refused with a coded
error before any resolver runs, and uploads wait for a signed-in user before their body is read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson
from tests.documents import REPORT

BOMB_PART = "__typename @include(if: true) "
COSTLY_PART = """
  a{n}: incidents(first: 100) {{
    nodes {{
      comments(first: 100) {{ nodes {{ body author {{ name }} }} }}
      history(first: 100) {{ nodes {{ kind actor {{ name }} }} }}
      attachments {{ url }}
      allowedTransitions
    }}
  }}
"""
DASHBOARD_PAGE = """
query Dashboard($me: ID!) {
  dashboard { total open overdue byStatus { status count } }
  incidents(filter: {involvingUserId: $me}, orderBy: {field: PRIORITY, direction: ASC},
            first: 100) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      number description priority status assignedTo { name } supportedBy { name }
      comments { totalCount }
    }
  }
}
"""
NESTED_COMMENTS = """
query Nested($n: Int) {
  incidents(first: $n) { nodes { comments(first: 100) { nodes { body } } } }
}
"""
DEEP = "{ incidents { nodes { comments { nodes { author { name } } } } } }"
TWO_LOGINS = """
mutation {
  a: login(input: {email: "user1@example.com", password: "right password"}) { token }
  b: login(input: {email: "user1@example.com", password: "wrong password"}) { token }
}
"""
COUNT = "{ incidents { totalCount } }"


def _codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert "data" not in body, body  # refused before it ran
    return [error["extensions"]["code"] for error in body["errors"]]


async def _client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def test_parse_bombs_are_refused_before_they_are_parsed(gql: GraphQLClient) -> None:
    # The 10 MB document is cut off with the body, the 2 MB one by its length
    ten = await gql.post("{ " + BOMB_PART * 350_000 + "}")
    assert ten.status_code == 413
    assert ten.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert _codes(await gql.post("{ " + BOMB_PART * 70_000 + "}")) == ["DOCUMENT_TOO_LARGE"]
    # And one short enough to be read stops the lexer at the token limit
    assert _codes(await gql.post("{ " + BOMB_PART * 3_000 + "}")) == ["TOO_MANY_TOKENS"]
    # And nesting the parser cannot follow is refused too
    assert _codes(await gql.post("{" + "a{" * 300 + "b" + "}" * 300 + "}")) == ["TOO_DEEP"]


async def test_aliases_directives_and_depth_are_capped(
    gql: GraphQLClient, settings: Settings, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    aliases = "{ " + " ".join(f"a{n}: __typename" for n in range(16)) + " }"
    assert _codes(await gql.post(aliases, as_=user)) == ["TOO_MANY_ALIASES"]
    directives = "{ " + BOMB_PART * 51 + "}"
    assert _codes(await gql.post(directives, as_=user)) == ["TOO_MANY_DIRECTIVES"]
    # Fragments are measured once, however often they are spread: 2^40 aliases, at once
    fragments = "{ ...F0 }\n" + "\n".join(
        f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(40)
    )
    fragments += "\nfragment F40 on Query { a: __typename }"
    assert _codes(await gql.post(fragments, as_=user)) == ["TOO_MANY_ALIASES"]

    # Depth: this schema nests at most 6 deep, so a lower limit shows the check
    await gql.execute(DEEP, as_=user)
    async for shallow in _client(settings.model_copy(update={"max_depth": 4})):
        assert _codes(await shallow.post(DEEP, as_=user)) == ["TOO_DEEP"]


async def test_costly_queries_are_refused_and_a_dashboard_page_is_not(
    gql: GraphQLClient, settings: Settings, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER)
    # A full dashboard page of 100 incidents runs
    await gql.execute(DASHBOARD_PAGE, {"me": manager.id}, as_=manager)
    # The 100 aliases are refused (by their tokens first), and one of them alone too
    costly = "{" + "".join(COSTLY_PART.format(n=n) for n in range(100)) + "}"
    assert _codes(await gql.post(costly, as_=manager)) == ["TOO_MANY_TOKENS"]
    one = "{" + COSTLY_PART.format(n=0) + "}"
    assert _codes(await gql.post(one, as_=manager)) == ["TOO_COSTLY"]
    # Pages are counted from variables too, and at the default size when absent
    assert _codes(await gql.post(NESTED_COMMENTS, {"n": 100}, as_=manager)) == ["TOO_COSTLY"]
    await gql.execute(NESTED_COMMENTS, {}, as_=manager)
    # With tokens and aliases unbounded, both attacks are refused by their cost alone
    lifted = settings.model_copy(update={"max_tokens": 100_000, "max_aliases": 100_000})
    dashboards = "{" + " ".join(f"d{n}: dashboard {{ total }}" for n in range(1000)) + "}"
    async for unbounded in _client(lifted):
        assert _codes(await unbounded.post(costly, as_=manager)) == ["TOO_COSTLY"]
        assert _codes(await unbounded.post(dashboards, as_=manager)) == ["TOO_COSTLY"]


async def test_a_refused_mutation_runs_no_resolver(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    reporter = await make_person(Role.USER, password="right password")
    # Given sixteen aliased reports, over the alias limit
    reports = (
        "mutation {"
        + "".join(
            f' r{n}: reportIncident(input: {{description: "x{n}"}}) {{ errors {{ code }} }}'
            for n in range(16)
        )
        + "}"
    )
    assert _codes(await gql.post(reports, as_=reporter)) == ["TOO_MANY_ALIASES"]
    # Then none was reported
    data = await gql.execute(COUNT, as_=reporter)
    assert data["incidents"]["totalCount"] == 0
    # And one request may try one password only: neither login ran, no token was issued
    assert _codes(await gql.post(TWO_LOGINS)) == ["TOO_MANY_LOGINS"]
    await gql.execute(REPORT, {"input": {"description": "marker"}}, as_=reporter)
    data = await gql.execute(COUNT, as_=reporter)
    assert data["incidents"]["totalCount"] == 1


async def test_batching_is_off(gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_json_body_over_the_limit_is_refused_with_413(settings: Settings) -> None:
    body = json.dumps({"query": "{ __typename }", "variables": {"x": "y" * 5000}}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    async for small in _client(settings.model_copy(update={"max_body_bytes": 4096})):
        # With its length announced, and without (chunked)
        for content in (body, chunks()):
            response = await small.http.post(
                "/graphql", content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413
            assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_bodies_that_are_not_json_get_400(gql: GraphQLClient) -> None:
    for content in (b'{"query": "\xff{ __typename }"}', b"[" * 100_000, b'{"query": '):
        response = await gql.http.post(
            "/graphql", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, content[:20]
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST"
        assert error["message"].startswith("Unable to parse request body")


async def test_an_anonymous_upload_is_refused_before_its_body_is_read(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    reporter = await make_person(Role.USER)
    operations = {
        "query": REPORT,
        "variables": {"input": {"description": "x", "attachments": [None]}},
    }
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{json.dumps(operations)}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.input.attachments.0"]}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(100):
            sent.append(1)
            yield b"x" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    async def upload(**headers: str) -> httpx.Response:
        sent.clear()
        return await gql.http.post(
            "/graphql",
            content=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Apollo-Require-Preflight": "true",
                **headers,
            },
        )

    # Anonymous, and with a bad token: 401, with the file unread
    for headers in ({}, {"Authorization": "Bearer gqls_not-a-token"}):
        refused = await upload(**headers)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert len(sent) < 100
    # While a signed-in user's upload is read to the end and stored
    accepted = await upload(Authorization=f"Bearer {reporter.token}")
    assert accepted.status_code == 200, accepted.text
    assert len(sent) == 100
    payload: dict[str, Any] = accepted.json()["data"]["reportIncident"]
    assert payload["errors"] == []
