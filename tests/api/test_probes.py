"""What an operator watches, through real HTTP on real ``gql-support serve`` processes:
/healthz, /readyz failing while the database or the bus is unreachable (and recovering), and
/metrics behind its token, counting what happened."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from gql_support import metrics
from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.incidents import service
from gql_support.notify.models import NoticeReason, OutboxMessage
from gql_support.settings import Settings
from tests.api.test_subscriptions import UPDATES, _subscribe
from tests.conftest import MakePerson, _pg_admin, serve_app, served
from tests.documents import REPORT

TOKEN = "metrics-s3cret"
REQUIRE_REDIS = os.environ.get("GQL_SUPPORT_TEST_REQUIRE_REDIS") == "1"


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def _metrics(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return _samples(response.text)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within 30 s"
        await asyncio.sleep(0.1)


async def _readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await http.get("/readyz")
    return response.status_code, response.json()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_metrics_are_off_by_default_and_need_their_token(
    settings: Settings, make_person: MakePerson
) -> None:
    person = await make_person(Role.ADMIN)
    off = create_app(settings, manage_database=False)
    async with serve_app(off) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/healthz")).text == "ok"
    with_token = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    on = create_app(with_token, manage_database=False)
    async with serve_app(on) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 401
        # A user's token, even an admin's, is not the metrics token
        user = await http.get("/metrics", headers={"Authorization": f"Bearer {person.token}"})
        assert user.status_code == 401
        assert ("gql_support_database_up", ()) in await _metrics(http)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_metrics_count_operations_errors_refusals_and_the_outbox(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a server whose users may write once a minute, and an email due for ten minutes
    person = await make_person(Role.USER)
    incident = await service.report_incident(actor=person.user, description="printer")
    await OutboxMessage.create(
        incident_id=incident.id,
        recipient_id=person.user.id,
        reason=NoticeReason.REPORTED,
        to_address="someone@example.com",
        to_name="Someone",
        locale="en",
        payload={},
        next_attempt_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    env = {
        "GQL_SUPPORT_METRICS_TOKEN": TOKEN,
        "GQL_SUPPORT_WRITE_BURST": "1",
        "GQL_SUPPORT_WRITES_PER_MINUTE": "0.01",
        "GQL_SUPPORT_OUTBOX_IN_SERVE": "false",
    }
    async with served(settings, **env) as server, httpx.AsyncClient(base_url=server.url) as http:
        signed_in = {"Authorization": f"Bearer {person.token}"}
        # When a named query runs, a document fails validation and two reports are sent
        await http.post("/graphql", json={"query": "query Me { viewer { id } }"}, headers=signed_in)
        await http.post("/graphql", json={"query": "{ nope }"}, headers=signed_in)
        report = {"query": REPORT, "variables": {"input": {"description": "jam"}}}
        first = (await http.post("/graphql", json=report, headers=signed_in)).json()
        second = (await http.post("/graphql", json=report, headers=signed_in)).json()
        assert first["data"]["reportIncident"]["errors"] == []
        assert second["data"]["reportIncident"]["errors"][0]["code"] == "RATE_LIMITED"
        samples = await _metrics(http)

    # Then each is counted under its name, its code, its kind
    requests = "gql_support_graphql_requests_total"
    assert _value(samples, requests, operation="Me", type="query") == 1
    assert _value(samples, requests, operation="Report", type="mutation") == 2
    latency = "gql_support_graphql_request_duration_seconds_count"
    assert _value(samples, latency, operation="Me", type="query") == 1
    errors = "gql_support_errors_total"
    assert _value(samples, errors, code="GRAPHQL_ERROR", where="graphql") == 1
    assert _value(samples, errors, code="RATE_LIMITED", where="payload") == 1
    assert _value(samples, "gql_support_rate_limited_total", kind="write") == 1
    # The report queued email too (no sender runs here): the old row is the oldest due
    assert _value(samples, "gql_support_outbox_due") >= 1
    assert _value(samples, "gql_support_outbox_oldest_due_age_seconds") >= 600
    assert samples[("gql_support_database_up", ())] == 1
    assert samples[("gql_support_bus_connected", ())] == 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_client_operation_names_cannot_grow_the_metrics_without_bound(
    live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for three more operation names
    monkeypatch.setattr(metrics, "_names", set(metrics._names))
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", len(metrics._names) + 3)
    names = [f"Name{uuid.uuid4().hex}" for _ in range(5)] + ["x" * 100]

    def count(operation: str) -> float:
        labels = {"operation": operation, "type": "query"}
        return REGISTRY.get_sample_value("gql_support_graphql_requests_total", labels) or 0.0

    before = count("(other)")
    # When six names come, the last one too long to be a label
    async with httpx.AsyncClient(base_url=live_server) as http:
        for name in names:
            await http.post("/graphql", json={"query": f"query {name} {{ __typename }}"})

    # Then three are labels of their own, the other three are counted as "(other)"
    assert [count(name) for name in names[:3]] == [1, 1, 1]
    assert [count(name) for name in names[3:5]] == [0, 0]
    assert count("(other)") - before == 3


LOGIN = """
mutation { login(input: {email: "someone@example.com", password: "guess"}) { token } }
"""


@pytest.mark.parametrize("backend", ["postgres"])
async def test_readyz_fails_while_the_database_is_gone_and_recovers(
    settings: Settings, template: str, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER)
    database = settings.database_url.rsplit("/", 1)[1]
    async with (
        served(settings, GQL_SUPPORT_METRICS_TOKEN=TOKEN) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        assert await _readiness(http) == (200, {"ready": True, "database": "ok", "bus": "ok"})

        # When the database goes away
        await _pg_admin(f'DROP DATABASE "{database}" WITH (FORCE)')

        # Then the server is not ready, names why, and still lives
        async def not_ready() -> bool:
            return (await _readiness(http))[0] == 503

        await _until(not_ready, "/readyz failing")
        _, body = await _readiness(http)
        assert body["ready"] is False
        assert body["database"] != "ok"
        assert (await http.get("/healthz")).status_code == 200
        assert (await _metrics(http))[("gql_support_database_up", ())] == 0
        # and requests that need the database fail with a clear error, not a 500
        signed_in = await http.post(
            "/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"Authorization": f"Bearer {person.token}"},
        )
        assert signed_in.status_code == 503, signed_in.text
        assert signed_in.headers["retry-after"] == "5"
        assert signed_in.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        login = (await http.post("/graphql", json={"query": LOGIN})).json()
        assert [e["extensions"]["code"] for e in login["errors"]] == ["UNAVAILABLE"]
        assert "Unexpected" not in login["errors"][0]["message"]

        # When it is back, the server recovers by itself, its bus caught up
        await _pg_admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')

        async def ready() -> bool:
            return (await _readiness(http))[0] == 200

        await _until(ready, "/readyz recovering")
        samples = await _metrics(http)
        assert samples[("gql_support_database_up", ())] == 1
        assert samples[("gql_support_bus_reconnects_total", ())] >= 1


class RedisServer:
    """A Redis server of the test's own, on a free port, that the test stops and restarts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder),
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                await asyncio.sleep(0.05)
            else:
                writer.close()
                await writer.wait_closed()
                return

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if REQUIRE_REDIS:
            pytest.fail("redis-server is required but missing")
        pytest.skip("redis-server is missing")
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_readyz_fails_while_the_bus_is_gone_and_the_bus_catches_up(
    settings: Settings, own_redis: RedisServer, make_person: MakePerson
) -> None:
    person = await make_person(Role.USER)
    env = {"GQL_SUPPORT_METRICS_TOKEN": TOKEN, "GQL_SUPPORT_REDIS_URL": own_redis.url}
    async with served(settings, **env) as server, httpx.AsyncClient(base_url=server.url) as http:
        assert await _readiness(http) == (200, {"ready": True, "database": "ok", "bus": "ok"})

        # When Redis stops, and a change commits meanwhile
        await own_redis.stop()

        async def not_ready() -> bool:
            return (await _readiness(http))[0] == 503

        await _until(not_ready, "/readyz failing")
        _, body = await _readiness(http)
        assert (body["database"], body["ready"]) == ("ok", False)
        assert body["bus"] != "ok"
        await service.report_incident(actor=person.user, description="while the bus is down")

        # Then, Redis back, the server is ready again and has replayed the change
        await own_redis.start()

        async def ready() -> bool:
            return (await _readiness(http))[0] == 200

        await _until(ready, "/readyz recovering")
        samples = await _metrics(http)
        assert samples[("gql_support_bus_reconnects_total", ())] == 1
        assert samples[("gql_support_bus_replayed_changes_total", ())] >= 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_open_websockets_and_subscriptions_are_counted_while_they_last(
    live_server: str, make_person: MakePerson
) -> None:
    def gauge(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    sockets, running = (
        gauge("gql_support_websockets_open"),
        gauge("gql_support_subscriptions_active"),
    )
    person = await make_person(Role.USER)
    url = live_server.replace("http://", "ws://", 1) + "/graphql"
    # When a dashboard subscribes
    dashboard = await _subscribe(url, person.token, UPDATES)

    # Then its socket and its subscription are counted, until it leaves
    async def counted() -> bool:
        return (
            gauge("gql_support_websockets_open") == sockets + 1
            and gauge("gql_support_subscriptions_active") == running + 1
        )

    await _until(counted, "the subscription counted")
    await dashboard.close()

    async def gone() -> bool:
        return (
            gauge("gql_support_websockets_open") == sockets
            and gauge("gql_support_subscriptions_active") == running
        )

    await _until(gone, "the subscription no longer counted")
