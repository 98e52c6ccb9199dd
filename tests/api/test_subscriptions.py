"""Live updates over a real WebSocket with the graphql-transport-ws protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from gql_support.accounts.models import Role
from gql_support.api import multicast, subscriptions
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import IncidentStatus
from gql_support.live import bus
from tests.api.test_query_count import statements
from tests.conftest import MakePerson, Person

UPDATES = """
subscription Updates($filter: IncidentFilter) {
  incidentUpdates(filter: $filter) {
    kind
    incident { number status }
    events { kind field from to actor { name } }
  }
}
"""
DASHBOARD = "subscription { dashboardUpdates { total open } }"
#: Time for a new subscription to reach the bus before the test makes a change.
GRAPHQL_WS = [Subprotocol("graphql-transport-ws")]


@pytest.fixture
def server_url(live_server: str) -> str:
    return live_server.replace("http://", "ws://", 1) + "/graphql"


async def _subscribe(
    url: str, token: str | None, query: str, variables: dict[str, Any] | None = None
) -> websockets.ClientConnection:
    socket = await websockets.connect(url, subprotocols=GRAPHQL_WS)
    payload = {} if token is None else {"authorization": f"Bearer {token}"}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
    )
    return socket


async def _listening(subscribers: int) -> None:
    """Waits until this many (shared) incidentUpdates subscribers have joined executions that
    are listening to the hub: from then on, every committed change reaches them."""
    hub = bus.current().hub
    async with asyncio.timeout(5):
        while True:
            broadcasts = list(hub.shared.get("broadcasts", {}).values())
            joined = sum(len(broadcast.subscribers) for broadcast in broadcasts)
            if joined >= subscribers and hub.subscriber_count >= len(broadcasts):
                return
            await asyncio.sleep(0.01)


async def _next(socket: websockets.ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))
        if message["type"] == "next":
            return dict(message["payload"]["data"])
        assert message["type"] in {"ping", "pong"}, message


async def _close_code(socket: websockets.ClientConnection) -> int | None:
    """Reads until the server closes the socket; the code it closed with."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), timeout=5)
    return socket.close_code


async def test_a_connection_without_a_valid_token_is_closed_4403(server_url: str) -> None:
    for payload in ({}, {"Authorization": "Bearer gqls_wrong"}):
        socket = await websockets.connect(server_url, subprotocols=GRAPHQL_WS)
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_subscribers_see_committed_changes_that_match_their_filter(
    server_url: str, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER, name="Max")
    agent = await make_person(Role.AGENT, name="Ada")
    everything = await _subscribe(server_url, manager.token, UPDATES)
    in_progress = await _subscribe(
        server_url, agent.token, UPDATES, {"filter": {"status": ["IN_PROGRESS"]}}
    )
    await _listening(2)

    incident = await service.report_incident(actor=manager.user, description="Printer jam")
    created = await _next(everything)
    assert created["incidentUpdates"]["kind"] == "CREATED"
    assert created["incidentUpdates"]["incident"] == {"number": 1, "status": "NEW"}
    assert [e["kind"] for e in created["incidentUpdates"]["events"]] == ["REPORTED"]

    await service.edit_incident(
        actor=manager.user,
        incident_id=incident.id,
        changes=IncidentChanges(assigned_to_id=agent.user.id, status=IncidentStatus.IN_PROGRESS),
    )
    for socket in (everything, in_progress):
        update = (await _next(socket))["incidentUpdates"]
        assert update["kind"] == "UPDATED"
        assert update["incident"] == {"number": 1, "status": "IN_PROGRESS"}
        assert [(e["kind"], e["from"], e["to"]) for e in update["events"]] == [
            ("ASSIGNED", None, "Ada"),
            ("STATUS_CHANGED", "NEW", "IN_PROGRESS"),
        ]

    # A refused change commits nothing and so publishes nothing: the next message is the comment.
    with pytest.raises(Exception, match="may not move"):
        await service.update_status(
            actor=agent.user, incident_id=incident.id, status=IncidentStatus.CLOSED
        )
    await service.add_comment(actor=agent.user, incident_id=incident.id, body="Looking")
    commented = (await _next(everything))["incidentUpdates"]
    assert commented["kind"] == "COMMENTED"
    assert [(e["kind"], e["to"]) for e in commented["events"]] == [("COMMENTED", "Looking")]
    for socket in (everything, in_progress):
        await socket.close()


async def test_dashboard_updates_start_with_the_figures_and_follow_changes(
    server_url: str, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    socket = await _subscribe(server_url, user.token, DASHBOARD)
    assert await _next(socket) == {"dashboardUpdates": {"total": 0, "open": 0}}
    await service.report_incident(actor=user.user, description="Slow report")
    assert await _next(socket) == {"dashboardUpdates": {"total": 1, "open": 1}}
    await socket.close()


async def test_a_dashboard_hears_of_an_incident_leaving_its_filter(
    server_url: str, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER, name="Max")
    agent = await make_person(Role.AGENT, name="Ada")
    leaving = await service.report_incident(actor=manager.user, description="Will leave")
    socket = await _subscribe(server_url, manager.token, UPDATES, {"filter": {"status": ["NEW"]}})
    await _listening(1)

    # When the incident moves out of the filter, the subscriber is told (to drop the row)
    await service.edit_incident(
        actor=manager.user,
        incident_id=leaving.id,
        changes=IncidentChanges(assigned_to_id=agent.user.id, status=IncidentStatus.IN_PROGRESS),
    )
    update = (await _next(socket))["incidentUpdates"]
    assert update["incident"] == {"number": 1, "status": "IN_PROGRESS"}

    # And a later change outside the filter, before and after, is not sent
    await service.add_comment(actor=agent.user, incident_id=leaving.id, body="Still on it")
    await service.report_incident(actor=manager.user, description="Inside")
    update = (await _next(socket))["incidentUpdates"]
    assert (update["kind"], update["incident"]) == ("CREATED", {"number": 2, "status": "NEW"})
    await socket.close()


async def test_a_burst_of_changes_moves_the_dashboard_once(
    server_url: str, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    socket = await _subscribe(server_url, user.token, DASHBOARD)
    assert await _next(socket) == {"dashboardUpdates": {"total": 0, "open": 0}}

    await asyncio.gather(
        *(service.report_incident(actor=user.user, description=f"Burst {i}") for i in range(20))
    )
    updates = []
    with contextlib.suppress(TimeoutError):
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=1.5))
            if message["type"] == "next":
                updates.append(message["payload"]["data"]["dashboardUpdates"])
    # Coalesced: a few updates (bursts longer than the 200 ms window split), not one per change
    assert 1 <= len(updates) <= 5, updates
    assert updates[-1] == {"total": 20, "open": 20}
    await socket.close()


async def test_a_subscriber_too_far_behind_is_closed_with_4008(
    server_url: str, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus, "QUEUE_SIZE", 4)
    user = await make_person(Role.USER)
    slow = await _subscribe(server_url, user.token, UPDATES)
    await _listening(1)
    # A flood faster than the subscriber's queue holds (ids of changes that do not exist)
    for change_id in range(1_000, 1_020):
        bus.current().hub.deliver(change_id)
    assert await _close_code(slow) == 4008
    # And the others are not held back: a new subscriber still gets the next change
    other = await _subscribe(server_url, user.token, UPDATES)
    await _listening(1)
    await service.report_incident(actor=user.user, description="After the flood")
    assert (await _next(other))["incidentUpdates"]["kind"] == "CREATED"
    await other.close()


async def test_the_legacy_graphql_ws_protocol_is_spoken_too(
    server_url: str, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    socket = await websockets.connect(server_url, subprotocols=[Subprotocol("graphql-ws")])
    await socket.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {user.token}"}}
        )
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "start", "payload": {"query": DASHBOARD}}))
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout=5))
        if message["type"] == "data":
            break
        assert message["type"] == "ka", message
    assert message["payload"]["data"] == {"dashboardUpdates": {"total": 0, "open": 0}}
    await socket.close()


SHARED = """
subscription Shared {
  incidentUpdates { kind incident { number reporter { name } watchers { name } } }
}
"""


async def _statements_for_one_change(
    server_url: str, subscribers: list[Person], reporter: Person
) -> list[str]:
    sockets = [await _subscribe(server_url, s.token, SHARED) for s in subscribers]
    await _listening(len(sockets))
    with statements() as sql:
        await service.report_incident(actor=reporter.user, description="Shared")
        received = [(await _next(ws))["incidentUpdates"] for ws in sockets]
    assert {r["incident"]["reporter"]["name"] for r in received} == {reporter.user.name}
    for ws in sockets:
        await ws.close()
    return [s for s in sql if '"api_token"' not in s]


async def test_identical_subscriptions_are_executed_once_per_change(
    server_url: str, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    executions = []
    update = subscriptions.IncidentUpdate

    def counted(**fields: Any) -> subscriptions.IncidentUpdate:
        executions.append(fields["kind"])
        return update(**fields)

    monkeypatch.setattr(subscriptions, "IncidentUpdate", counted)
    reporter = await make_person(Role.USER, name="Rita")
    watchers = [await make_person(Role.AGENT) for _ in range(5)]
    alone = await _statements_for_one_change(server_url, watchers[:1], reporter)
    shared = await _statements_for_one_change(server_url, watchers, reporter)
    # The subscription ran once for the five, not once each
    assert executions == ["CREATED", "CREATED"]
    # Five identical subscribers cost the same reads as one, plus one batched check that each
    # subscriber is still an active user.
    assert len(shared) == len(alone), "\n".join(shared)


async def test_a_burst_of_changes_checks_its_subscribers_once(
    server_url: str, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[set[int]] = []
    check = multicast._active_user_ids

    async def counted(user_ids: set[int]) -> set[int]:
        checks.append(set(user_ids))
        return await check(user_ids)

    monkeypatch.setattr(multicast, "_active_user_ids", counted)
    # However slow the machine, the burst falls within one check's lifetime.
    monkeypatch.setattr(multicast, "RECHECK_SECONDS", 3600.0)
    reporter = await make_person(Role.USER)
    agents = [await make_person(Role.AGENT) for _ in range(2)]
    sockets = [await _subscribe(server_url, a.token, SHARED) for a in agents]
    await _listening(2)

    for n in range(5):
        await service.report_incident(actor=reporter.user, description=f"Burst {n}")

    for ws in sockets:
        kinds = [(await _next(ws))["incidentUpdates"]["kind"] for _ in range(5)]
        assert kinds == ["CREATED"] * 5
        await ws.close()
    # The two who joined were checked together, once, not again for each change.
    assert checks == [{a.user.id for a in agents}]


async def test_a_deactivated_viewer_hears_no_more_while_the_others_do(
    server_url: str, make_person: MakePerson
) -> None:
    staying = await make_person(Role.AGENT)
    leaving = await make_person(Role.AGENT)
    kept = await _subscribe(server_url, staying.token, SHARED)
    dropped = await _subscribe(server_url, leaving.token, SHARED)
    await _listening(2)
    leaving.user.is_active = False
    await leaving.user.save()

    await service.report_incident(actor=staying.user, description="After leaving")
    assert (await _next(kept))["incidentUpdates"]["kind"] == "CREATED"
    message = json.loads(await asyncio.wait_for(dropped.recv(), timeout=5))
    assert message == {"id": "1", "type": "complete"}
    await kept.close()
    await dropped.close()
