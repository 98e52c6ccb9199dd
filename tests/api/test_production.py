"""Production mode and secrets: what strangers no longer learn, masked errors that name their
log line, no password in the log, and the GraphiQL page's headers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from tortoise import Tortoise

from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson

INTROSPECTION = "{ __schema { queryType { name } } }"
MISSPELT_FIELD = "{ viewr { name } }"
MISSPELT_ENUM = """
query Users($role: [Role!]) { users(role: $role) { name } }
"""
COUNT = "{ incidents { totalCount } }"
LOGIN_WITH_LITERALS = """
mutation {
  login(input: {email: "user1@example.com", password: "correct horse battery"}) { token }
}
"""


@pytest.fixture
def production(settings: Settings) -> Settings:
    return Settings(
        env="production",
        secret_key="one key for every process",
        database_url=settings.database_url,
        attachments_dir=settings.attachments_dir,
    )


@pytest.fixture
async def prod(production: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(production, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


def test_production_turns_the_tools_for_strangers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    development = Settings.from_env()
    assert (development.graphiql, development.suggestions) == (True, True)
    monkeypatch.setenv("GQL_SUPPORT_ENV", "production")
    settings = Settings.from_env()
    assert (settings.graphiql, settings.suggestions, settings.introspection) == (
        False,
        False,
        "signed-in",
    )
    monkeypatch.setenv("GQL_SUPPORT_INTROSPECTION", "off")
    assert Settings.from_env().introspection == "off"


def test_production_refuses_to_start_without_a_key_or_with_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GQL_SUPPORT_ENV", "production")
    with pytest.raises(RuntimeError, match="GQL_SUPPORT_SECRET_KEY is unset"):
        create_app(Settings.from_env())
    monkeypatch.setenv("GQL_SUPPORT_SECRET_KEY", "k")
    monkeypatch.setenv("GQL_SUPPORT_DEBUG", "true")
    with pytest.raises(RuntimeError, match="GQL_SUPPORT_DEBUG is on"):
        create_app(Settings.from_env())


async def test_production_suggests_nothing(
    prod: GraphQLClient, gql: GraphQLClient, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    # In development the errors suggest the right names
    field = (await gql.post(MISSPELT_FIELD, as_=user)).json()["errors"][0]["message"]
    enum = (await gql.post(MISSPELT_ENUM, {"role": ["AGNT"]}, as_=user)).json()["errors"]
    assert "Did you mean" in field
    assert "Did you mean" in enum[0]["message"]
    # In production they do not
    for query, variables in ((MISSPELT_FIELD, {}), (MISSPELT_ENUM, {"role": ["AGNT"]})):
        [error] = (await prod.post(query, variables, as_=user)).json()["errors"]
        assert "Did you mean" not in error["message"]
        assert "viewer" not in error["message"]
        assert "AGENT" not in error["message"]


async def test_production_introspection_is_for_signed_in_users(
    prod: GraphQLClient, make_person: MakePerson
) -> None:
    anonymous = (await prod.post(INTROSPECTION)).json()
    assert "data" not in anonymous
    assert anonymous["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    user = await make_person(Role.USER)
    data = await prod.execute(INTROSPECTION, as_=user)
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_production_serves_no_graphiql(prod: GraphQLClient) -> None:
    response = await prod.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404


async def test_a_masked_error_names_its_log_line(
    prod: GraphQLClient, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_person(Role.USER)
    # Given a database that lost a table
    rename = 'ALTER TABLE "incident" RENAME TO "incident_gone"'
    await Tortoise.get_connection("default").execute_script(rename)
    # When a query fails on it
    with caplog.at_level(logging.ERROR, logger="gql_support.api"):
        body = (await prod.post(COUNT, as_=user)).json()
    # Then the client learns only a request id, which the log line carries with the cause
    [error] = body["errors"]
    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == f"Unexpected error (request id {request_id})."
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None


async def test_no_password_reaches_the_log(
    gql: GraphQLClient, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    await make_person(Role.USER, password="correct horse battery")
    # Given a login that fails inside, after the password was checked
    rename = 'ALTER TABLE "api_token" RENAME TO "api_token_gone"'
    await Tortoise.get_connection("default").execute_script(rename)
    with caplog.at_level(logging.DEBUG):
        body = (await gql.post(LOGIN_WITH_LITERALS)).json()
    # Then the error is logged, without the document's literals
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    logged = caplog.text
    assert "unexpected error" in logged
    assert "correct horse battery" not in logged


async def test_the_graphiql_page_keeps_no_token_and_cannot_be_framed(gql: GraphQLClient) -> None:
    response = await gql.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    # Only our own files may run: no inline script, no other origin
    assert policy.split("script-src ", 1)[1].split(";", 1)[0] == "'self'"
    assert "<script>" not in response.text
    script = response.text.split('<script src="')[-1].split('"', 1)[0]
    assert script.endswith("/graphiql.js")
    assert "shouldPersistHeaders: false" in (await gql.http.get(script)).text
