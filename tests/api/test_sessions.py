"""Sessions follow the account: tokens expire, logout revokes, admins change roles and
deactivate people, and an ended session's open WebSockets are closed on every process (or,
if that message never arrives, their next operation is refused)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from gql_support.accounts import service as accounts
from gql_support.accounts.models import ApiToken, Role, User
from gql_support.api.ids import to_global_id
from gql_support.incidents import service
from gql_support.incidents.models import Incident, IncidentStatus
from gql_support.live import bus
from gql_support.settings import Settings
from tests.api.test_rate_limits import require_redis
from tests.api.test_scale_out import _server
from tests.api.test_subscriptions import _listening
from tests.conftest import GraphQLClient, MakePerson, Person, start_cli
from tests.live.test_bus import REDIS_URL

VIEWER = "query { viewer { email } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}
"""
LOGOUT = "mutation { logout { errors { code message } } }"
UPDATE_USER = """
mutation UpdateUser($input: UpdateUserInput!) {
  updateUser(input: $input) {
    user { email role isActive }
    errors { code message field }
  }
}
"""
REJECT = """
mutation Reject($id: ID!) {
  updateStatus(input: {incidentId: $id, status: REJECTED}) {
    incident { status } errors { code }
  }
}
"""
UPDATES = "subscription { incidentUpdates { kind incident { number } } }"
#: How long an ended session's socket may stay open: the issue asks for a second, on every
#: process; the margin is for a loaded test machine.
CLOSE_DEADLINE = 5.0


def _ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/graphql"


async def _connect(url: str, token: str) -> websockets.ClientConnection:
    """A graphql-transport-ws connection, acknowledged, with one live subscription."""
    socket = await websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}))
    return socket


async def _closed_with(socket: websockets.ClientConnection) -> int | None:
    """Waits (with a deadline) for the server to close the socket; its close code. Anything
    the server sends first other than keep-alives fails the test."""

    async def drain() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                message = json.loads(await socket.recv())
                assert message["type"] in {"ping", "pong"}, message

    await asyncio.wait_for(drain(), CLOSE_DEADLINE)
    return socket.close_code


async def _reject_over(socket: websockets.ClientConnection, incident: Incident) -> None:
    """Sends an updateStatus(REJECTED) operation over the socket."""
    variables = {"id": to_global_id("Incident", incident.id)}
    message = {"id": "2", "type": "subscribe", "payload": {"query": REJECT, "variables": variables}}
    await socket.send(json.dumps(message))


async def _cli(settings: Settings, *args: str, **env: str) -> str:
    process = await start_cli(settings, *args, **env)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _status(incident: Incident) -> IncidentStatus:
    return (await Incident.get(id=incident.id)).status


async def test_a_token_past_its_lifetime_is_refused(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER, password="long enough to pass")
    # A token from login lasts the configured lifetime (30 days by default)
    data = await gql.execute(LOGIN, {"email": person.user.email, "password": "long enough to pass"})
    token = await ApiToken.filter(user_id=person.user.id).order_by("-id").first()
    assert data["login"]["token"]
    assert token is not None
    assert token.expires_at is not None
    assert token.expires_at - datetime.now(UTC) > timedelta(days=29, hours=23)
    # And one whose lifetime is over is refused like a revoked one
    expired = await accounts.issue_token(user=person.user, lifetime=timedelta(0))
    response = await gql.post(VIEWER, as_=Person(person.user, expired))
    assert response.status_code == 401


async def test_logout_revokes_the_token_it_was_sent_with_only(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER)
    other_device = Person(person.user, await accounts.issue_token(user=person.user))
    assert await gql.execute(LOGOUT, as_=person) == {"logout": {"errors": []}}
    assert (await gql.post(VIEWER, as_=person)).status_code == 401
    assert (await gql.execute(VIEWER, as_=other_device))["viewer"]["email"] == person.user.email


async def test_only_an_admin_changes_a_role_or_deactivates(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    admin = await make_person(Role.ADMIN)
    manager = await make_person(Role.MANAGER)
    agent = await make_person(Role.AGENT)
    target = {"userId": agent.id, "role": "MANAGER"}

    # A manager may not
    data = await gql.execute(UPDATE_USER, {"input": target}, as_=manager)
    assert data["updateUser"]["user"] is None
    assert [e["code"] for e in data["updateUser"]["errors"]] == ["FORBIDDEN"]
    assert (await User.get(id=agent.user.id)).role == Role.AGENT

    # An admin may, and a deactivated user's tokens stop working at once
    data = await gql.execute(UPDATE_USER, {"input": target}, as_=admin)
    assert data["updateUser"] == {
        "user": {"email": agent.user.email, "role": "MANAGER", "isActive": True},
        "errors": [],
    }
    deactivate = {"userId": agent.id, "isActive": False}
    data = await gql.execute(UPDATE_USER, {"input": deactivate}, as_=admin)
    assert data["updateUser"]["user"]["isActive"] is False
    assert (await gql.post(VIEWER, as_=agent)).status_code == 401


async def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    admin = await make_person(Role.ADMIN)
    for change, field in (({"role": "MANAGER"}, "role"), ({"isActive": False}, "isActive")):
        data = await gql.execute(UPDATE_USER, {"input": {"userId": admin.id, **change}}, as_=admin)
        [error] = data["updateUser"]["errors"]
        assert (error["code"], error["field"]) == ("FORBIDDEN", ["input", field])
        assert "last active admin" in error["message"]
    # Once there is another admin, the first may step down
    await make_person(Role.ADMIN)
    data = await gql.execute(
        UPDATE_USER, {"input": {"userId": admin.id, "role": "MANAGER"}}, as_=admin
    )
    assert data["updateUser"]["user"]["role"] == "MANAGER"


async def test_revoking_a_token_closes_its_open_websocket(
    live_server: str, make_person: MakePerson
) -> None:
    # Given a manager with a live subscription
    manager = await make_person(Role.MANAGER)
    incident = await service.report_incident(actor=manager.user, description="Printer jam")
    socket = await _connect(_ws_url(live_server), manager.token)
    # When the token is revoked
    assert await accounts.revoke_token(token=manager.token)
    # Then the socket is closed, and nothing more runs over it
    assert await _closed_with(socket) == 4403
    with pytest.raises(websockets.ConnectionClosed):
        await _reject_over(socket, incident)
    assert await _status(incident) == IncidentStatus.NEW


async def test_deactivating_a_manager_closes_their_websocket(
    live_server: str, make_person: MakePerson
) -> None:
    admin = await make_person(Role.ADMIN)
    manager = await make_person(Role.MANAGER)
    bystander = await make_person(Role.USER)
    manager_socket = await _connect(_ws_url(live_server), manager.token)
    bystander_socket = await _connect(_ws_url(live_server), bystander.token)
    async with httpx.AsyncClient(base_url=live_server) as http:
        data = await GraphQLClient(http).execute(
            UPDATE_USER, {"input": {"userId": manager.id, "isActive": False}}, as_=admin
        )
    assert data["updateUser"]["errors"] == []
    assert await _closed_with(manager_socket) == 4403
    # And nobody else's socket is closed: the bystander still hears the next change
    await _listening(1)
    await service.report_incident(actor=bystander.user, description="After")
    message = json.loads(await asyncio.wait_for(bystander_socket.recv(), CLOSE_DEADLINE))
    assert message["type"] == "next"
    # And a socket closed by its client is no longer tracked
    await bystander_socket.close()
    async with asyncio.timeout(CLOSE_DEADLINE):
        while True:
            if not len(bus.current().hub.sessions):
                break
            await asyncio.sleep(0.01)


async def test_an_operation_on_a_socket_whose_session_ended_unheard_is_refused(
    settings: Settings, live_server: str, make_person: MakePerson
) -> None:
    # Given a manager's socket, and their token revoked by the command line, whose message
    # cannot reach this test's server (an in-process bus)
    manager = await make_person(Role.MANAGER)
    incident = await service.report_incident(actor=manager.user, description="Printer jam")
    socket = await _connect(_ws_url(live_server), manager.token)
    await _cli(settings, "token", "revoke", "--email", manager.user.email)
    # When the manager sends a mutation over it
    await _reject_over(socket, incident)
    # Then it is refused: the socket closes and the incident is unchanged
    assert await _closed_with(socket) == 4403
    assert await _status(incident) == IncidentStatus.NEW


async def test_a_websocket_closes_when_its_token_expires(
    live_server: str, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER)
    token = await accounts.issue_token(user=person.user, lifetime=timedelta(seconds=1))
    socket = await _connect(_ws_url(live_server), token)
    assert await _closed_with(socket) == 4403


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("bus_kind", ["postgres-notify", "redis"])
async def test_ended_sessions_close_websockets_on_every_process(
    settings: Settings, make_person: MakePerson, bus_kind: str
) -> None:
    env: dict[str, str] = {}
    if bus_kind == "redis":
        await require_redis()
        env["GQL_SUPPORT_REDIS_URL"] = REDIS_URL
    admin = await make_person(Role.ADMIN)
    manager = await make_person(Role.MANAGER)
    user = await make_person(Role.USER)
    async with _server(settings, **env) as first, _server(settings, **env) as second:
        manager_socket = await _connect(_ws_url(first), manager.token)
        user_socket = await _connect(_ws_url(first), user.token)

        # An admin deactivates the manager through the second process
        async with httpx.AsyncClient(base_url=second) as http:
            data = await GraphQLClient(http).execute(
                UPDATE_USER, {"input": {"userId": manager.id, "isActive": False}}, as_=admin
            )
        assert data["updateUser"]["errors"] == []
        assert await _closed_with(manager_socket) == 4403

        # And the command line revokes the user's tokens from a process of its own
        await _cli(settings, "token", "revoke", "--email", user.user.email, **env)
        assert await _closed_with(user_socket) == 4403
