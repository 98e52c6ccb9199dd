"""Signing in: tokens over HTTP, login, refusals, and the people pickers."""

from __future__ import annotations

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from tests.conftest import GraphQLClient, MakePerson

VIEWER = "query { viewer { name email role locale timeZone } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token viewer { email } errors { code message }
  }
}
"""
USERS = """
query Users($role: [Role!], $search: String, $first: Int) {
  users(role: $role, search: $search, first: $first) { name role }
}
"""


async def test_a_request_without_a_token_is_unauthenticated(gql: GraphQLClient) -> None:
    response = await gql.post(VIEWER)
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_a_bad_or_revoked_token_is_refused_with_401(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.AGENT)
    for header in ("Bearer gqls_not-a-token", "Basic dXNlcjpwYXNz", "Bearer"):
        response = await gql.http.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
        )
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"] == "Bearer"

    assert await accounts.revoke_token(token=person.token)
    response = await gql.post(VIEWER, as_=person)
    assert response.status_code == 401


async def test_viewer_is_the_token_owner(gql: GraphQLClient, make_person: MakePerson) -> None:
    person = await make_person(Role.MANAGER, name="Mia", locale="fr", time_zone="Europe/Paris")
    data = await gql.execute(VIEWER, as_=person)
    assert data["viewer"] == {
        "name": "Mia",
        "email": person.user.email,
        "role": "MANAGER",
        "locale": "fr",
        "timeZone": "Europe/Paris",
    }


async def test_an_inactive_users_token_is_refused(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.AGENT)
    person.user.is_active = False
    await person.user.save()
    response = await gql.post(VIEWER, as_=person)
    assert response.status_code == 401


async def test_login_issues_a_working_token(gql: GraphQLClient, make_person: MakePerson) -> None:
    await make_person(Role.USER, name="Lou", password="correct horse")
    email = "user1@example.com"

    data = await gql.execute(LOGIN, {"email": email.upper(), "password": "correct horse"})
    payload = data["login"]
    assert payload["errors"] == []
    assert payload["viewer"] == {"email": email}

    response = await gql.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {payload['token']}"},
    )
    assert response.json()["data"]["viewer"]["name"] == "Lou"


async def test_login_with_a_wrong_password_or_unknown_email_says_the_same(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    await make_person(Role.USER, password="correct horse")
    wrong_password = await gql.execute(
        LOGIN, {"email": "user1@example.com", "password": "wrong horse"}
    )
    unknown_email = await gql.execute(
        LOGIN, {"email": "nobody@example.com", "password": "correct horse"}
    )
    for data in (wrong_password, unknown_email):
        assert data["login"]["token"] is None
        assert data["login"]["errors"] == [
            {"code": "INVALID_CREDENTIALS", "message": "wrong email or password"}
        ]


async def test_users_lists_active_people_by_role_and_name(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    viewer = await make_person(Role.USER, name="Zoe")
    await make_person(Role.AGENT, name="Ana")
    await make_person(Role.MANAGER, name="Bob")
    gone = await make_person(Role.AGENT, name="Cid")
    gone.user.is_active = False
    await gone.user.save()

    everyone = await gql.execute(USERS, {}, as_=viewer)
    assert [u["name"] for u in everyone["users"]] == ["Ana", "Bob", "Zoe"]
    agents = await gql.execute(USERS, {"role": ["AGENT", "MANAGER"]}, as_=viewer)
    assert [u["name"] for u in agents["users"]] == ["Ana", "Bob"]
    found = await gql.execute(USERS, {"search": "bo"}, as_=viewer)
    assert [u["name"] for u in found["users"]] == ["Bob"]
    first = await gql.execute(USERS, {"first": 1}, as_=viewer)
    assert [u["name"] for u in first["users"]] == ["Ana"]


async def test_graphiql_is_served_without_a_token(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
