"""Several server processes on one PostgreSQL: a subscriber on one hears a change made
through another, even across a lost listening connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from tortoise import connections
from websockets.typing import Subprotocol

from gql_support.accounts.models import Role
from gql_support.settings import Settings
from tests.conftest import MakePerson, Person

REPORT = """
mutation Report($description: String!) {
  reportIncident(input: {description: $description}) { incident { number } errors { code } }
}
"""
UPDATES = "subscription { incidentUpdates { kind incident { number description } } }"
GRAPHQL_WS = [Subprotocol("graphql-transport-ws")]


@pytest.fixture
def backend() -> str:
    # Processes share changes through the database's LISTEN/NOTIFY: PostgreSQL only.
    return "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _server(settings: Settings, **extra_env: str) -> AsyncIterator[str]:
    """A real ``uvicorn`` process serving the app on the test's database."""
    port = _free_port()
    env = {
        **os.environ,
        "GQL_SUPPORT_DATABASE_URL": settings.database_url,
        "GQL_SUPPORT_MAIL_DIR": settings.mail_dir,
        **extra_env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "gql_support.api.app:app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            # A minute, not ten seconds: a server's start (imports, migrations check) took
            # over 10 s on a loaded two-core machine.
            for _ in range(600):
                assert process.returncode is None, "the server process stopped"
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the server process did not start")
        yield base
    finally:
        process.terminate()
        await process.wait()


async def _report(base: str, person: Person, description: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/graphql",
            json={"query": REPORT, "variables": {"description": description}},
            headers={"Authorization": f"Bearer {person.token}"},
        )
    return int(response.json()["data"]["reportIncident"]["incident"]["number"])


async def _next_update(ws: websockets.ClientConnection) -> dict[str, object]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if message["type"] == "next":
            return dict(message["payload"]["data"]["incidentUpdates"])


async def test_a_change_made_on_one_process_reaches_a_subscriber_on_another(
    settings: Settings, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    async with _server(settings) as first, _server(settings) as second:
        url = first.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(url, subprotocols=GRAPHQL_WS) as ws:
            init = {"authorization": f"Bearer {user.token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": UPDATES}}
            await ws.send(json.dumps(subscribe))
            await asyncio.sleep(0.5)  # time for the subscription to reach the bus

            # A change through the second process reaches the subscriber on the first
            number = await _report(second, user, "Made on the second")
            assert await _next_update(ws) == {
                "kind": "CREATED",
                "incident": {"number": number, "description": "Made on the second"},
            }

            # Killing every listening connection loses nothing: the next change still arrives
            await connections.get("default").execute_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'gql-support-listener' AND datname = current_database()"
            )
            number = await _report(second, user, "Made while listeners reconnect")
            assert await _next_update(ws) == {
                "kind": "CREATED",
                "incident": {"number": number, "description": "Made while listeners reconnect"},
            }
