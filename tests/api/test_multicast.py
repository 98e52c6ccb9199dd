"""What shared subscriptions may share, over a real WebSocket (graphql-transport-ws): never a
field computed for the viewer, however the document reaches it; links in their results are the
http(s) links a browser opens; and a subscriber that stops reading holds a bounded number of
bytes of results before it is closed, while the others keep receiving."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import websockets
from websockets import ClientConnection, Subprotocol

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.live import bus
from tests.api.test_subscriptions import _listening, _next, _subscribe
from tests.conftest import GraphQLClient, MakePerson, Person

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { number } errors { code message } }
}
"""
#: The same selection three ways: directly, through named fragments (one inside another),
#: and through inline fragments.
DIRECT = "subscription { incidentUpdates { incident { number attachments { url } } } }"
FRAGMENTS = """
subscription Files { incidentUpdates { incident { ...Files } } }
fragment Files on Incident { number attachments { ...Link } }
fragment Link on Attachment { url }
"""
INLINE = """
subscription {
  incidentUpdates {
    incident { ... on Incident { number attachments { ... on Attachment { url } } } }
  }
}
"""


async def test_each_viewer_gets_links_signed_for_them_however_the_document_asks(
    live_server: str, make_person: MakePerson
) -> None:
    # Given two people subscribed with the same documents, each selecting a signed link
    ada = await make_person(Role.USER, name="Ada")
    bob = await make_person(Role.AGENT, name="Bob")
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    sockets = [
        (person, await _subscribe(url, person.token, document))
        for document in (DIRECT, FRAGMENTS, INLINE)
        for person in (ada, bob)
    ]
    await _listening(len(sockets))

    async with httpx.AsyncClient(base_url=live_server) as http:
        # When Ada reports an incident with a file
        response = await GraphQLClient(http).upload(
            REPORT, {"input": {"description": "Printer jam"}}, [("notes.txt", b"jammed")], as_=ada
        )
        assert response.json()["data"]["reportIncident"]["errors"] == []

        # Then each subscriber's link is signed for them, on the server's http address, and opens
        for person, ws in sockets:
            incident = (await _next(ws))["incidentUpdates"]["incident"]
            [attachment] = incident["attachments"]
            link = urlsplit(attachment["url"])
            assert f"{link.scheme}://{link.netloc}" == live_server
            assert parse_qs(link.query)["user"] == [str(person.user.id)]
            download = await http.get(f"{link.path}?{link.query}")
            assert (download.status_code, download.content) == (200, b"jammed")
    for _, ws in sockets:
        await ws.close()


HEAVY = """
subscription Heavy {
  incidentUpdates { kind incident { number comments { totalCount nodes { body } } } }
}
"""
#: Changes made while one subscriber never reads: more than its byte budget and the sockets'
#: buffers hold, far fewer than its 256 results.
CHANGES = 30


async def _connect(url: str, person: Person, query: str, **options: Any) -> ClientConnection:
    """A subscription over a socket that takes messages of any size."""
    connection = await websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None, **options
    )
    init = {"authorization": f"Bearer {person.token}"}
    await connection.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await connection.recv())["type"] == "connection_ack"
    await connection.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return connection


async def test_a_subscriber_that_never_reads_is_closed_past_its_byte_budget(
    live_server: str, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an incident with a comment of about 1 MB, so that every result weighs that much
    user = await make_person(Role.USER)
    incident = await service.report_incident(actor=user.user, description="Heavy")
    heavy = secrets.token_urlsafe(750_000)
    await service.add_comment(actor=user.user, incident_id=incident.id, body=heavy)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    reader = await _connect(url, user, HEAVY)
    # (which stops taking frames off its socket after the first, and whose socket buffers little)
    address = urlsplit(live_server)
    assert address.hostname is not None
    assert address.port is not None
    unread = socket.socket()
    unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    unread.connect((address.hostname, address.port))
    unread.setblocking(False)
    never = await _connect(url, user, HEAVY, max_queue=1, sock=unread)
    await _listening(2)

    # When changes follow, the reader gets every one
    for n in range(CHANGES):
        await service.add_comment(actor=user.user, incident_id=incident.id, body=f"note {n}")
        update = (await _next(reader))["incidentUpdates"]
        assert update["incident"]["comments"]["totalCount"] == n + 2
        assert update["incident"]["comments"]["nodes"][0]["body"] == heavy

    # Then the one that never read was closed with 4008 before the last change reached it
    received = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            message = json.loads(await asyncio.wait_for(never.recv(), timeout=5))
            if message["type"] == "next":
                received += 1
                comments = message["payload"]["data"]["incidentUpdates"]["incident"]["comments"]
                assert comments["totalCount"] < CHANGES + 1, "never closed"
    assert never.close_code == 4008
    assert 0 < received < CHANGES
    # and it left on the server without an error logged (nothing more is sent on its socket)
    async with asyncio.timeout(5):
        while _joined() > 1:  # noqa: ASYNC110 - the server signals no event for it
            await asyncio.sleep(0.01)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    await reader.close()


def _joined() -> int:
    broadcasts = bus.current().hub.shared.get("broadcasts", {}).values()
    return sum(len(broadcast.subscribers) for broadcast in broadcasts)
