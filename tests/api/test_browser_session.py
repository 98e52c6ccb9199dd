"""The browser's session: ``POST /session`` sets an HttpOnly, SameSite cookie that page scripts
never see, and the API accepts it only where the CSRF rules hold (JSON or preflighted POSTs,
WebSockets from our own origin), never on a GET; ``DELETE /session`` revokes it."""

from __future__ import annotations

import json

import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from gql_support.accounts.models import Role
from gql_support.api.session import COOKIE
from tests.conftest import GraphQLClient, MakePerson

VIEWER = "query { viewer { email } }"
PASSWORD = "correct horse battery"


async def _signed_in(gql: GraphQLClient, make_person: MakePerson) -> str:
    """Signs a new agent in at /session; the cookie's value."""
    person = await make_person(Role.AGENT, password=PASSWORD)
    response = await gql.http.post(
        "/session", json={"email": person.user.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    gql.http.cookies.clear()
    return response.cookies[COOKIE]


async def test_signing_in_sets_a_cookie_that_scripts_cannot_read(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.AGENT, locale="fr", password=PASSWORD)
    # When the person signs in with their email and password
    response = await gql.http.post(
        "/session", json={"email": person.user.email, "password": PASSWORD}
    )
    # Then the token travels only in an HttpOnly, SameSite=Strict cookie for the whole site
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=gqls_")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "gqls_" not in response.text
    assert response.json() == {
        "viewer": {
            "name": person.user.name,
            "email": person.user.email,
            "role": "AGENT",
            "locale": "fr",
        }
    }


async def test_a_wrong_password_sets_no_cookie(gql: GraphQLClient, make_person: MakePerson) -> None:
    person = await make_person(Role.AGENT, password=PASSWORD)
    response = await gql.http.post(
        "/session", json={"email": person.user.email, "password": "x" * 9}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert "set-cookie" not in response.headers


async def test_a_form_post_cannot_sign_in(gql: GraphQLClient) -> None:
    # A page on another site can post a form, but not JSON without a preflight
    response = await gql.http.post("/session", data={"email": "a@example.com", "password": "p"})
    assert response.status_code == 415
    assert "set-cookie" not in response.headers


async def test_the_cookie_is_accepted_on_json_posts_only(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    token = await _signed_in(gql, make_person)
    cookies = {"Cookie": f"{COOKIE}={token}"}
    # A JSON POST (another origin would need a preflight) is the person's
    response = await gql.http.post("/graphql", json={"query": VIEWER}, headers=cookies)
    assert response.json()["data"]["viewer"]["email"].startswith("agent")
    # A GET, which any page can make a browser send, is anonymous
    response = await gql.http.get("/graphql", params={"query": VIEWER}, headers=cookies)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A form POST is refused before it runs (urlencoded: a media type never read)
    response = await gql.http.post(
        "/graphql", data={"operations": json.dumps({"query": VIEWER}), "map": "{}"}, headers=cookies
    )
    assert response.status_code == 415
    # and so is a multipart one without the header another origin could not send
    response = await gql.http.post(
        "/graphql",
        files={"operations": (None, json.dumps({"query": VIEWER})), "map": (None, "{}")},
        headers=cookies,
    )
    assert response.status_code == 400
    assert "Cross-Site Request Forgery" in response.text


async def test_a_stale_cookie_is_anonymous_and_a_bearer_token_wins(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    other = await make_person(Role.MANAGER)
    cookies = {"Cookie": f"{COOKIE}=gqls_not-a-token"}
    response = await gql.http.post("/graphql", json={"query": VIEWER}, headers=cookies)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    token = await _signed_in(gql, make_person)
    response = await gql.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Cookie": f"{COOKIE}={token}", "Authorization": f"Bearer {other.token}"},
    )
    assert response.json()["data"]["viewer"]["email"] == other.user.email


async def test_signing_out_revokes_the_session(gql: GraphQLClient, make_person: MakePerson) -> None:
    token = await _signed_in(gql, make_person)
    response = await gql.http.delete("/session", headers={"Cookie": f"{COOKIE}={token}"})
    assert response.status_code == 204
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    # The token itself is revoked, not only forgotten by this browser
    response = await gql.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Cookie": f"{COOKIE}={token}"}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_websocket_takes_the_cookie_from_our_own_origin_only(
    gql: GraphQLClient, make_person: MakePerson, live_server: str
) -> None:
    token = await _signed_in(gql, make_person)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    cookie = {"Cookie": f"{COOKIE}={token}"}
    protocols = [Subprotocol("graphql-transport-ws")]
    # From our own pages, the cookie signs the connection in
    async with websockets.connect(
        url, subprotocols=protocols, origin=Origin(live_server), additional_headers=cookie
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
    # From a page elsewhere, the handshake itself is refused
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            url,
            subprotocols=protocols,
            origin=Origin("http://evil.example"),
            additional_headers=cookie,
        )
    assert refused.value.response.status_code == 403
