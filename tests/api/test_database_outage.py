"""While PostgreSQL cannot be reached, a request fails at once with a clear, coded error, a
subscription keeps the changes it could not read yet, and the server serves again by itself
once the database is back.

The soak found these: during a restart of PostgreSQL the token check answered a bare 500, the
resolvers "Unexpected error.", and subscriptions ended with ``complete``. Here the outage is
real: the app reaches PostgreSQL through a TCP relay of ours, and cutting the relay drops every
connection and refuses new ones."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import websockets

from gql_support import db
from gql_support.accounts.models import Role
from gql_support.attachments.service import AttachmentStore
from gql_support.incidents import service
from gql_support.settings import Settings
from tests.api.test_subscriptions import GRAPHQL_WS, UPDATES, _listening, _next, _subscribe
from tests.conftest import GraphQLClient, MakePerson

VIEWER = "query { viewer { name } }"
LOGIN = 'mutation { login(input: {email: "a@example.com", password: "x"}) { token } }'
DEADLINE = 30
pytestmark = pytest.mark.parametrize("backend", ["postgres"])


class Relay:
    """Forwards a local port to PostgreSQL; ``cut`` drops every connection and the port,
    ``go_down`` drops every connection and, until ``go_up``, each new one as it comes; with
    ``cut_at_commit`` the next COMMIT reaches PostgreSQL but its answer never reaches the app;
    ``freeze`` makes the open connections die silently (nothing more passes, nothing closes),
    as behind a lost network, while new ones work; ``cut_after`` (bytes) is ``cut_at_commit``
    for the next message the app sends that contains them."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.down = False
        self.dropped = asyncio.Event()
        self.cut_at_commit = False
        self.cut_after: bytes | None = None
        self.frozen: set[asyncio.StreamWriter] = set()

    def freeze(self) -> None:
        self.frozen |= self.writers

    def go_down(self) -> None:
        self.down = True
        for writer in self.writers:
            writer.transport.abort()

    def go_up(self) -> None:
        self.down = False

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.dropped.set()
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    if sink in self.frozen:
                        continue
                    sink.write(data)
                    await sink.drain()
                    marker = b"COMMIT" if self.cut_at_commit else self.cut_after
                    if sink is up_writer and marker is not None and marker in data:
                        self.cut_at_commit, self.cut_after = False, None
                        writer.transport.abort()
                        return
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[Relay]:
    """The test's database, reopened through a relay."""
    parts = urlsplit(settings.database_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    await db.close_database()
    through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl()
    await db.open_database(settings.model_copy(update={"database_url": through}))
    yield relay
    await relay.cut()


async def test_requests_during_an_outage_fail_with_a_code_and_the_server_recovers(
    relay: Relay, gql: GraphQLClient, make_person: MakePerson
) -> None:
    user = await make_person(Role.USER)
    assert (await gql.execute(VIEWER, as_=user))["viewer"]["name"]

    await relay.cut()
    # The token check reads the database before GraphQL runs: 503, to be retried.
    signed_in = await asyncio.wait_for(gql.post(VIEWER, as_=user), DEADLINE)
    # An anonymous login reaches its resolver, which reads the database.
    anonymous = await asyncio.wait_for(gql.post(LOGIN), DEADLINE)

    assert signed_in.status_code == 503, signed_in.text
    assert int(signed_in.headers["retry-after"]) > 0
    assert signed_in.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert anonymous.status_code == 200, anonymous.text
    [error] = anonymous.json()["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert "Unexpected error" not in error["message"]

    await relay.open()  # PostgreSQL is back, on the same address
    assert (await gql.execute(VIEWER, as_=user))["viewer"]["name"]


async def _closed_with(socket: websockets.ClientConnection) -> tuple[int, str]:
    """Reads until the server closes the socket: the code and reason it closed with."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), DEADLINE)
    assert socket.close_code is not None
    return socket.close_code, socket.close_reason or ""


def _outage_log_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The warnings and errors logged by the server (ours and uvicorn's, not asyncpg's pool),
    each checked to be one line about the outage: an expected outage logs no traceback and
    nothing at ERROR (which is kept for bugs)."""
    lines = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("gql_support", "uvicorn"))
    ]
    for record in lines:
        assert record.levelno == logging.WARNING, record.getMessage()
        assert record.exc_info is None, record.getMessage()
        assert "\n" not in record.getMessage()
    return lines


async def test_a_websocket_connecting_during_an_outage_is_told_to_try_again(
    relay: Relay, live_server: str, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_person(Role.USER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    await relay.cut()
    # connection_init checks the token, which reads the database
    socket = await websockets.connect(url, subprotocols=GRAPHQL_WS)
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}
    with caplog.at_level(logging.INFO):
        await socket.send(json.dumps(init))
        code, reason = await _closed_with(socket)
    # 1013 Try Again Later, not 4403 (which would send the client to sign in again)
    assert code == 1013
    assert reason.startswith("UNAVAILABLE")
    assert _outage_log_lines(caplog)


async def test_a_subscription_sent_during_an_outage_is_told_to_try_again(
    relay: Relay, live_server: str, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_person(Role.USER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    socket = await _subscribe(url, user.token, UPDATES)
    await _listening(1)
    await relay.cut()
    # Each operation re-reads its session (a revoked token is refused): here it cannot
    subscribe = {"id": "2", "type": "subscribe", "payload": {"query": UPDATES}}
    with caplog.at_level(logging.INFO):
        await socket.send(json.dumps(subscribe))
        code, reason = await _closed_with(socket)
    assert code == 1013
    assert reason.startswith("UNAVAILABLE")
    assert _outage_log_lines(caplog)


async def test_a_download_during_an_outage_answers_503(
    relay: Relay,
    gql: GraphQLClient,
    make_person: MakePerson,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_person(Role.AGENT)
    # A signed link needs no token: the link's user is read from the database
    link = AttachmentStore.from_settings(settings).download_url_by_id(
        1, user_id=user.user.id, base_url="http://testserver"
    )
    await relay.cut()
    with caplog.at_level(logging.INFO):
        answer = await asyncio.wait_for(gql.http.get(link), DEADLINE)
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert _outage_log_lines(caplog)


async def test_an_outage_in_a_resolver_is_logged_as_one_warning_line(
    relay: Relay, gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    await relay.cut()
    with caplog.at_level(logging.INFO):
        answer = await asyncio.wait_for(gql.post(LOGIN), DEADLINE)
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    [line] = _outage_log_lines(caplog)
    assert "unavailable" in line.getMessage()


async def test_a_subscriber_gets_a_change_it_could_not_read_while_the_database_restarted(
    relay: Relay, live_server: str, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    socket = await _subscribe(url, manager.token, UPDATES)
    await _listening(1)

    # Committed and announced; the database goes before the subscription has read it.
    incident = await service.report_incident(actor=manager.user, description="Printer jam")
    relay.go_down()
    # The subscription tried to read it, and failed.
    await asyncio.wait_for(relay.dropped.wait(), DEADLINE)
    relay.go_up()

    update = (await _next(socket))["incidentUpdates"]
    assert update["kind"] == "CREATED"
    assert update["incident"]["number"] == incident.number
    await socket.close()


async def test_a_change_cut_off_mid_transaction_fails_with_unavailable_and_leaves_nothing(
    relay: Relay, gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    user = await make_person(Role.USER)
    report = 'mutation { reportIncident(input: {description: "Jam"}) { incident { number } } }'
    # Another connection, straight to PostgreSQL, holds the incident table: the report waits
    # inside its transaction, and the database goes away under it.
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE")
            sent = asyncio.ensure_future(gql.post(report, as_=user))
            await _waiting_on_a_lock(conn)
            relay.go_down()
            answer = await asyncio.wait_for(sent, DEADLINE)
        relay.go_up()
        assert answer.status_code == 200, answer.text
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert await conn.fetchval("SELECT count(*) FROM incident") == 0
    finally:
        await conn.close()


async def test_a_change_whose_commit_is_cut_off_says_its_outcome_is_unknown(
    relay: Relay, gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    """PostgreSQL may keep a change whose COMMIT it received just before the connection went:
    "UNAVAILABLE, try again" would then make a client report it twice (the soak found this)."""
    user = await make_person(Role.USER)
    report = 'mutation { reportIncident(input: {description: "Jam"}) { incident { number } } }'
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE")
            sent = asyncio.ensure_future(gql.post(report, as_=user))
            await _waiting_on_a_lock(conn)
            # The report's transaction waits on the lock; its COMMIT will be the next one.
            relay.cut_at_commit = True
        answer = await asyncio.wait_for(sent, DEADLINE)
        assert answer.status_code == 200, answer.text
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "OUTCOME_UNKNOWN", error
        assert await conn.fetchval("SELECT count(*) FROM incident") == 1
    finally:
        await conn.close()


async def test_an_account_change_whose_commit_is_cut_off_says_its_outcome_is_unknown(
    relay: Relay, gql: GraphQLClient, make_person: MakePerson, settings: Settings
) -> None:
    """The account mutations commit as the incident ones do: a cut-off COMMIT is
    OUTCOME_UNKNOWN there too, never "UNAVAILABLE, try again"."""
    user = await make_person(Role.USER)
    rename = 'mutation { updateProfile(input: {name: "Renamed"}) { user { name } } }'
    conn = await asyncpg.connect(settings.database_url)
    try:
        # A row lock on the user (the token check's plain reads pass it) holds the change
        # inside its transaction, after the rate limit's own commit.
        async with conn.transaction():
            await conn.execute('SELECT 1 FROM "user" WHERE id = $1 FOR UPDATE', user.user.id)
            sent = asyncio.ensure_future(gql.post(rename, as_=user))
            await _waiting_on_a_lock(conn)
            relay.cut_at_commit = True
        answer = await asyncio.wait_for(sent, DEADLINE)
        assert answer.status_code == 200, answer.text
        [error] = answer.json()["errors"]
        assert error["extensions"]["code"] == "OUTCOME_UNKNOWN", error
        # PostgreSQL kept it: "try again" would have been wrong
        name = await conn.fetchval('SELECT name FROM "user" WHERE id = $1', user.user.id)
        assert name == "Renamed"
    finally:
        await conn.close()


async def _waiting_on_a_lock(conn: asyncpg.Connection) -> None:
    """Returns once another session of this test's database waits for a lock (polled with a
    deadline). Not any ungranted lock in ``pg_locks``: on a shared server, another test's wait
    let the cut be armed before the change under test was waiting, and cut an earlier COMMIT."""
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(DEADLINE):
        while not await conn.fetchval(query):  # noqa: ASYNC110 - PostgreSQL tells no event
            await asyncio.sleep(0.01)
