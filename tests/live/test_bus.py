"""The buses that carry committed changes between server processes: PostgreSQL LISTEN/NOTIFY
and Redis pub/sub, each with its catch-up after a lost connection."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from tortoise import connections

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.live import bus
from gql_support.live import changes as live_changes
from gql_support.live.models import IncidentChange
from gql_support.settings import Settings
from tests.api.test_database_outage import Relay
from tests.conftest import MakePerson

REDIS_URL = os.environ.get("GQL_SUPPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("GQL_SUPPORT_TEST_REQUIRE_REDIS") == "1"
ListeningBus = bus.PostgresBus | bus.RedisBus


@pytest.fixture(params=["postgres-notify", "redis"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend() -> str:
    # Both buses need a database that other processes share: PostgreSQL.
    return "postgres"


@pytest.fixture
async def live_bus(
    settings: Settings, bus_kind: str
) -> AsyncIterator[bus.PostgresBus | bus.RedisBus]:
    if bus_kind == "redis":
        from redis.asyncio import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            async with Redis.from_url(REDIS_URL) as probe:
                await probe.ping()
        except (RedisConnectionError, OSError) as error:
            if REQUIRE_REDIS:
                pytest.fail(f"Redis is required but unreachable: {error}")
            pytest.skip(f"Redis unreachable: {error}")
        live: ListeningBus = bus.RedisBus(REDIS_URL)
    else:
        live = bus.PostgresBus(settings.database_url)
    bus.use(live)
    await live.start()
    yield live
    await live.stop()


async def _received(feed: bus.Feed) -> int:
    return await asyncio.wait_for(feed.next(), 5)


async def _nothing_else_arrived(feed: bus.Feed, make_person: MakePerson) -> None:
    """Proves nothing is waiting or on its way: a marker change committed now is the next
    thing the feed receives."""
    reporter = await make_person(Role.USER)
    marker = await service.report_incident(actor=reporter.user, description="marker")
    change_id = await _received(feed)
    assert (await IncidentChange.get(id=change_id)).incident_id == marker.id


async def test_a_committed_change_reaches_the_hub_and_a_rolled_back_one_never(
    live_bus: ListeningBus,
    make_person: MakePerson,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reporter = await make_person(Role.USER)
    async with live_bus.hub.subscribe() as feed:
        # Given a change whose transaction fails after its change row (and NOTIFY) was written
        record = live_changes.record

        async def record_then_fail(**kwargs: Any) -> IncidentChange:
            await record(**kwargs)
            raise RuntimeError("the database went away")

        monkeypatch.setattr(live_changes, "record", record_then_fail)
        with pytest.raises(RuntimeError):
            await service.report_incident(actor=reporter.user, description="rolled back")
        monkeypatch.setattr(live_changes, "record", record)
        assert await IncidentChange.all().count() == 0
        # When a change commits
        incident = await service.report_incident(actor=reporter.user, description="kept")
        # Then only the committed one arrives
        change_id = await _received(feed)
        change = await IncidentChange.get(id=change_id)
        assert change.incident_id == incident.id
        await _nothing_else_arrived(feed, make_person)


async def test_a_listener_that_loses_its_connection_catches_up(
    live_bus: ListeningBus, bus_kind: str, make_person: MakePerson
) -> None:
    reporter = await make_person(Role.USER)
    async with live_bus.hub.subscribe() as feed:
        # Given the listening connection is killed from the server side
        if bus_kind == "redis":
            from redis.asyncio import Redis

            async with Redis.from_url(REDIS_URL) as admin:
                await admin.client_kill_filter(_type="pubsub")
        else:
            await connections.get("default").execute_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'gql-support-listener' AND datname = current_database()"
            )
        await asyncio.sleep(0.02)
        # When a change commits while it is down
        incident = await service.report_incident(actor=reporter.user, description="meanwhile")
        # Then it still arrives, once, after the listener reconnects
        change_id = await _received(feed)
        assert (await IncidentChange.get(id=change_id)).incident_id == incident.id
        await asyncio.wait_for(live_bus.connected.wait(), 5)
        await _nothing_else_arrived(feed, make_person)


async def test_a_change_committed_while_redis_is_unreachable_is_not_reported_as_failed(
    make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a Redis bus whose server is gone (nothing listens on its port)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = bus.RedisBus(f"redis://127.0.0.1:{port}/0")
    bus.use(gone)
    reporter = await make_person(Role.USER)
    try:
        # When a change commits: it cannot be announced
        incident = await service.report_incident(actor=reporter.user, description="meanwhile")
    finally:
        await gone.stop()
    # Then the change stands and its author is told so (the listeners of every process read it
    # from the database when their connection is back); the failed announce is logged
    assert await IncidentChange.filter(incident_id=incident.id).count() == 1
    assert "not announced" in caplog.text


async def test_a_listener_whose_connection_died_silently_catches_up_from_when_it_last_worked(
    settings: Settings, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection lost behind a dead network is noticed only when a health check times out;
    what was announced from the moment it died must still arrive. (Scaled down: a check every
    0.2 s timing out after 1 s, a catch-up margin of 0.1 s; in production 10 s, 5 s and 5 s.)"""
    monkeypatch.setattr(bus, "HEALTH_CHECK_SECONDS", 0.2)
    monkeypatch.setattr(bus, "HEALTH_CHECK_TIMEOUT", 1.0)
    monkeypatch.setattr(bus, "CATCH_UP_MARGIN", timedelta(seconds=0.1))
    reporter = await make_person(Role.USER)
    parts = urlsplit(settings.database_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    through = parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}").geturl()
    listener = bus.PostgresBus(through)
    bus.use(listener)
    await listener.start()
    try:
        async with listener.hub.subscribe() as feed:
            # Given the listening connection dies silently: nothing passes, nothing closes
            relay.freeze()
            # When a change commits meanwhile (its NOTIFY goes into the dead connection)
            incident = await service.report_incident(actor=reporter.user, description="lost")
            # Then it arrives once the loss is noticed and the listener has reconnected
            change_id = await asyncio.wait_for(feed.next(), 15)
            assert (await IncidentChange.get(id=change_id)).incident_id == incident.id
            await _nothing_else_arrived(feed, make_person)
    finally:
        await listener.stop()
        await relay.cut()
