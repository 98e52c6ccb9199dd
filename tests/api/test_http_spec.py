"""GraphQL over HTTP, case by case: the media type a client accepts, and the status of each
outcome in it (the table in ``gql_support.api.responses``). graphql-http's audit
(tests/http_audit) covers the spec as a whole."""

from __future__ import annotations

import httpx
import pytest

from gql_support.api.responses import GRAPHQL_RESPONSE, JSON, media_type
from tests.conftest import GraphQLClient, MakePerson

VIEWER = "query Me { viewer { id name } }"
NOT_VALID = "{ viewer { noSuchField } }"
NOT_PARSED = "{ viewer {"
WITH_VARIABLE = "query One($id: ID!) { node(id: $id) { id } }"
MUTATION = "mutation { logout { errors { code } } }"


async def _post(
    gql: GraphQLClient, accept: str | None, query: str, variables: object = None, **headers: str
) -> httpx.Response:
    if accept is not None:
        headers["Accept"] = accept
    return await gql.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def _media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";", 1)[0]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0", JSON),
        ("text/html", JSON),
    ],
)
def test_the_media_type_follows_the_accept_header(accept: str | None, expected: str) -> None:
    assert media_type(accept) == expected


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_successful_operation_is_200_in_either_media_type(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person()
    for accept, media in ((GRAPHQL_RESPONSE, GRAPHQL_RESPONSE), (None, JSON)):
        response = await _post(gql, accept, VIEWER, Authorization=f"Bearer {person.token}")
        assert response.status_code == 200
        assert _media(response) == media
        assert response.headers["vary"] == "Accept"
        assert response.json() == {"data": {"viewer": {"id": person.id, "name": person.user.name}}}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_field_error_is_200_with_its_data_even_when_null(gql: GraphQLClient) -> None:
    # Given an anonymous client asking for a non-null field that needs a signed-in user
    response = await _post(gql, GRAPHQL_RESPONSE, VIEWER)

    # Then the operation ran: 200, data null, the error at its path
    assert response.status_code == 200
    assert _media(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["viewer"], "UNAUTHENTICATED")
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (NOT_PARSED, None),
        (NOT_VALID, None),
        (WITH_VARIABLE, {"id": ["not", "an", "id"]}),
        (WITH_VARIABLE, None),
        ("{ " + " ".join(f"a{n}: viewer {{ id }}" for n in range(20)) + " }", None),
    ],
    ids=["parse", "validation", "variable coercion", "missing variable", "too many aliases"],
)
async def test_a_request_error_is_400_without_data_or_200_for_older_clients(
    gql: GraphQLClient, make_person: MakePerson, query: str, variables: object
) -> None:
    person = await make_person()
    signed_in = {"Authorization": f"Bearer {person.token}"}

    spec = await _post(gql, GRAPHQL_RESPONSE, query, variables, **signed_in)
    assert spec.status_code == 400, spec.text
    assert _media(spec) == GRAPHQL_RESPONSE
    assert "data" not in spec.json()
    assert spec.json()["errors"]

    legacy = await _post(gql, JSON, query, variables, **signed_in)
    assert legacy.status_code == 200, legacy.text
    assert _media(legacy) == JSON
    assert legacy.json() == spec.json()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_mutation_is_never_run_over_get(
    gql: GraphQLClient, make_person: MakePerson, accept: str
) -> None:
    # Given a signed-in user whose token logout would revoke
    person = await make_person()
    signed_in = {"Authorization": f"Bearer {person.token}"}

    # When the mutation comes over GET
    response = await gql.http.get(
        "/graphql", params={"query": MUTATION}, headers={"Accept": accept, **signed_in}
    )

    # Then it is refused with 405 and the token still works
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _media(response) == accept
    assert "data" not in response.json()
    still = await _post(gql, JSON, VIEWER, **signed_in)
    assert still.json()["data"]["viewer"]["id"] == person.id


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_refusal_before_graphql_speaks_the_accepted_media_type(gql: GraphQLClient) -> None:
    bad_token = await _post(gql, GRAPHQL_RESPONSE, VIEWER, Authorization="Bearer nope")
    assert bad_token.status_code == 401
    assert _media(bad_token) == GRAPHQL_RESPONSE
    assert bad_token.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    not_json = await gql.http.post(
        "/graphql",
        content=b"{not json",
        headers={"Accept": GRAPHQL_RESPONSE, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert _media(not_json) == GRAPHQL_RESPONSE
    assert "data" not in not_json.json()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_post_in_a_media_type_not_read_is_refused_with_415(
    gql: GraphQLClient, make_person: MakePerson, content_type: str | None
) -> None:
    person = await make_person()
    headers = {"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {person.token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    # A client's own header that CSRF checks look for does not make the body readable
    headers["Apollo-Require-Preflight"] = "1"
    response = await gql.http.post(
        "/graphql", content=b'{"query": "{ viewer { id } }"}', headers=headers
    )
    assert response.status_code == 415
    assert response.headers["accept"] == "application/json, multipart/form-data"
    assert _media(response) == GRAPHQL_RESPONSE
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "data" not in response.json()
