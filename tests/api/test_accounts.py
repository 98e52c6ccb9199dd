"""People and passwords through the API: a user changes their password (every other session
ends, WebSockets included) and their profile; an admin creates users and changes any account;
new passwords follow the password rule."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from gql_support.accounts import service as accounts
from gql_support.accounts.models import ApiToken, Role, User
from gql_support.api.app import create_app
from gql_support.incidents import service
from gql_support.settings import Settings
from tests.api.test_rate_limits import Clock, _app
from tests.api.test_sessions import CLOSE_DEADLINE, _closed_with, _connect, _ws_url
from tests.api.test_subscriptions import _listening
from tests.conftest import GraphQLClient, MakePerson, Person

PASSWORD = "my current passphrase"
NEW_PASSWORD = "my next passphrase, longer"
USER_FIELDS = "name email role locale timeZone isActive"
CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(input: {currentPassword: $current, newPassword: $new}) {
    user { email } errors { code message field retryAfter }
  }
}
"""
UPDATE_PROFILE = f"""
mutation Update($input: UpdateProfileInput!) {{
  updateProfile(input: $input) {{ user {{ {USER_FIELDS} }} errors {{ code message field }} }}
}}
"""
CREATE_USER = f"""
mutation Create($input: CreateUserInput!) {{
  createUser(input: $input) {{ user {{ id {USER_FIELDS} }} errors {{ code message field }} }}
}}
"""
UPDATE_USER = f"""
mutation Update($input: UpdateUserInput!) {{
  updateUser(input: $input) {{ user {{ {USER_FIELDS} }} errors {{ code message field }} }}
}}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
VIEWER = "query { viewer { email } }"


async def _signed_in(gql: GraphQLClient, token: str) -> bool:
    response = await gql.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in {200, 401}, response.text
    return response.status_code == 200


async def _change(gql: GraphQLClient, person: Person, current: str, new: str) -> dict[str, Any]:
    data = await gql.execute(CHANGE_PASSWORD, {"current": current, "new": new}, as_=person)
    return dict(data["changePassword"])


def _codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_change_password_keeps_this_session_and_ends_every_other(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a user signed in on three devices, and another user
    person = await make_person(Role.AGENT, password=PASSWORD)
    laptop = await accounts.issue_token(user=person.user)
    phone = await accounts.issue_token(user=person.user)
    bystander = await make_person(Role.AGENT)

    # When they change their password from one of them
    payload = await _change(gql, person, PASSWORD, NEW_PASSWORD)

    # Then that session goes on, the others are over, and nobody else's is touched
    assert payload == {"user": {"email": person.user.email}, "errors": []}
    assert await _signed_in(gql, person.token)
    assert not await _signed_in(gql, laptop)
    assert not await _signed_in(gql, phone)
    assert await _signed_in(gql, bystander.token)
    # And only the new password signs in
    old = await gql.execute(LOGIN, {"email": person.user.email, "password": PASSWORD})
    assert old["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    new = await gql.execute(LOGIN, {"email": person.user.email, "password": NEW_PASSWORD})
    assert new["login"]["token"]


async def test_change_password_needs_the_current_one_and_a_strong_new_one(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER, password=PASSWORD)
    other = await accounts.issue_token(user=person.user)
    before = (await User.get(id=person.user.id)).password_hash

    refusals = {
        "wrong current": await _change(gql, person, "not my passphrase", NEW_PASSWORD),
        "short": await _change(gql, person, PASSWORD, "too short"),
        "common": await _change(gql, person, PASSWORD, "iloveyou1234"),
        "common in capitals": await _change(gql, person, PASSWORD, "ILOVEYOU1234"),
    }

    assert {reason: _codes(p) for reason, p in refusals.items()} == {
        "wrong current": [("INVALID_CREDENTIALS", ["input", "currentPassword"])],
        "short": [("WEAK_PASSWORD", ["input", "newPassword"])],
        "common": [("WEAK_PASSWORD", ["input", "newPassword"])],
        "common in capitals": [("WEAK_PASSWORD", ["input", "newPassword"])],
    }
    # And nothing changed: same password, the other session still on
    assert (await User.get(id=person.user.id)).password_hash == before
    assert await _signed_in(gql, other)


async def test_guessing_the_current_password_meets_the_login_limits(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a stolen session: the thief does not know the password
    person = await make_person(Role.USER, password=PASSWORD)
    async with _app(settings, Clock()) as gql:
        # When they guess past the free attempts (5 per account)
        errors = [
            (await _change(gql, person, f"guess number {n}", NEW_PASSWORD))["errors"][0]
            for n in range(7)
        ]
        # Then they are made to wait, like at login, even with the right password
        right = await _change(gql, person, PASSWORD, NEW_PASSWORD)
    assert [e["code"] for e in errors] == ["INVALID_CREDENTIALS"] * 6 + ["RATE_LIMITED"]
    assert (right["errors"][0]["code"], right["errors"][0]["retryAfter"]) == ("RATE_LIMITED", 1)


async def test_changing_the_password_closes_the_other_sessions_websockets(
    live_server: str, make_person: MakePerson
) -> None:
    # Given a user with a live dashboard open on another device
    person = await make_person(Role.MANAGER, password=PASSWORD)
    other = Person(person.user, await accounts.issue_token(user=person.user))
    other_socket = await _connect(_ws_url(live_server), other.token)
    this_socket = await _connect(_ws_url(live_server), person.token)
    # When they change their password
    async with httpx.AsyncClient(base_url=live_server) as http:
        payload = await _change(GraphQLClient(http), person, PASSWORD, NEW_PASSWORD)
    assert payload["errors"] == []
    # Then the other device's socket is closed, and this one still hears changes
    assert await _closed_with(other_socket) == 4403
    await _listening(1)
    await service.report_incident(actor=person.user, description="After the change")
    message = json.loads(await asyncio.wait_for(this_socket.recv(), CLOSE_DEADLINE))
    assert message["type"] == "next"
    await this_socket.close()


async def test_update_profile_changes_name_language_time_zone_and_password(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER, password=PASSWORD)
    other = await accounts.issue_token(user=person.user)

    # A bad time zone, or a new password without the current one, changes nothing
    refused = await gql.execute(
        UPDATE_PROFILE, {"input": {"name": "Zoé", "timeZone": "Paris"}}, as_=person
    )
    no_current = await gql.execute(
        UPDATE_PROFILE, {"input": {"name": "Zoé", "newPassword": NEW_PASSWORD}}, as_=person
    )
    assert _codes(refused["updateProfile"]) == [("INVALID_INPUT", ["input", "timeZone"])]
    assert _codes(no_current["updateProfile"]) == [("INVALID_INPUT", ["input", "currentPassword"])]
    assert (await User.get(id=person.user.id)).name == person.user.name

    # Name, language and time zone alone keep every session
    data = await gql.execute(
        UPDATE_PROFILE,
        {"input": {"name": " Zoé ", "locale": "fr", "timeZone": "Europe/Paris"}},
        as_=person,
    )
    assert data["updateProfile"] == {
        "user": {
            "name": "Zoé",
            "email": person.user.email,
            "role": "USER",
            "locale": "fr",
            "timeZone": "Europe/Paris",
            "isActive": True,
        },
        "errors": [],
    }
    assert await _signed_in(gql, other)

    # And a new password, with the current one, ends the other sessions
    data = await gql.execute(
        UPDATE_PROFILE,
        {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}},
        as_=person,
    )
    assert data["updateProfile"]["errors"] == []
    assert not await _signed_in(gql, other)
    assert await _signed_in(gql, person.token)


async def test_an_admin_creates_users_with_the_desks_time_zone(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a desk in Paris, an admin and an agent
    desk = settings.model_copy(update={"default_time_zone": "Europe/Paris"})
    app = create_app(desk, manage_database=False)
    admin = await make_person(Role.ADMIN)
    agent = await make_person(Role.AGENT)
    new_hire = {"email": "New.Hire@example.com", "name": "New Hire", "role": "AGENT"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        gql = GraphQLClient(http)
        # When the agent tries, they are refused
        refused = await gql.execute(CREATE_USER, {"input": new_hire}, as_=agent)
        assert _codes(refused["createUser"]) == [("FORBIDDEN", None)]

        # When the admin creates the new hire, without a time zone but with a password
        created = await gql.execute(
            CREATE_USER, {"input": {**new_hire, "password": PASSWORD}}, as_=admin
        )
        # Then they get the desk's time zone, and sign in
        user = created["createUser"]["user"]
        assert {k: v for k, v in user.items() if k != "id"} == {
            "name": "New Hire",
            "email": "new.hire@example.com",
            "role": "AGENT",
            "locale": "en",
            "timeZone": "Europe/Paris",
            "isActive": True,
        }
        login = await gql.execute(LOGIN, {"email": "new.hire@example.com", "password": PASSWORD})
        assert login["login"]["token"]

        # And a second user with that address, or a weak password, is refused
        again = await gql.execute(CREATE_USER, {"input": new_hire}, as_=admin)
        weak = await gql.execute(
            CREATE_USER,
            {"input": {**new_hire, "email": "x@example.com", "password": "password1234"}},
            as_=admin,
        )
        assert _codes(again["createUser"]) == [("INVALID_INPUT", ["input", "email"])]
        assert _codes(weak["createUser"]) == [("WEAK_PASSWORD", ["input", "password"])]
    assert await User.filter(email__in=["new.hire@example.com", "x@example.com"]).count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"email": "taken@example.com"}, ("INVALID_INPUT", ["input", "email"])),
        ({"email": "not an address"}, ("INVALID_INPUT", ["input", "email"])),
        ({"timeZone": "Mars/Olympus_Mons"}, ("INVALID_INPUT", ["input", "timeZone"])),
        ({"name": ""}, ("INVALID_INPUT", ["input", "name"])),
    ],
)
async def test_an_admin_changes_any_account_but_not_into_a_bad_one(
    gql: GraphQLClient,
    make_person: MakePerson,
    change: dict[str, str],
    error: tuple[str, list[str]],
) -> None:
    admin = await make_person(Role.ADMIN)
    await make_person(Role.USER, name="Taken")
    await accounts.change_user(user_id=(await User.get(name="Taken")).id, email="taken@example.com")
    agent = await make_person(Role.AGENT)
    token_count = await ApiToken.filter(user_id=agent.user.id, revoked_at=None).count()

    # A bad change is refused with its field, and changes nothing
    refused = await gql.execute(UPDATE_USER, {"input": {"userId": agent.id, **change}}, as_=admin)
    assert _codes(refused["updateUser"]) == [error]

    # Every field an admin may change, at once
    data = await gql.execute(
        UPDATE_USER,
        {
            "input": {
                "userId": agent.id,
                "name": "Agent Smith",
                "email": "Smith@Example.com",
                "role": "MANAGER",
                "locale": "fr",
                "timeZone": "America/Montreal",
            }
        },
        as_=admin,
    )
    assert data["updateUser"] == {
        "user": {
            "name": "Agent Smith",
            "email": "smith@example.com",
            "role": "MANAGER",
            "locale": "fr",
            "timeZone": "America/Montreal",
            "isActive": True,
        },
        "errors": [],
    }
    # And their sessions go on (only deactivation ends them)
    assert await ApiToken.filter(user_id=agent.user.id, revoked_at=None).count() == token_count
    # And someone who is not an admin changes nobody's account
    forbidden = await gql.execute(
        UPDATE_USER, {"input": {"userId": admin.id, "name": "Pwned"}}, as_=agent
    )
    assert _codes(forbidden["updateUser"]) == [("FORBIDDEN", None)]
