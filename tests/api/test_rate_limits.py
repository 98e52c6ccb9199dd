"""Rate limits over HTTP: growing waits after failed logins (per account and per client
address, shared by every app on the database or on Redis), a budget of writes per user, and
password hashing bounded however many logins arrive at once.

Time is a clock the test moves, so waits are checked exactly and nothing sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.accounts.throttle import Throttle
from gql_support.api.app import create_app
from gql_support.api.ids import to_global_id
from gql_support.incidents import service
from gql_support.incidents.models import Comment
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson
from tests.live.test_bus import REDIS_URL, REQUIRE_REDIS

PASSWORD = "right-password"

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token errors { code message retryAfter }
  }
}
"""
COMMENT = """
mutation Comment($id: ID!, $body: String!) {
  addComment(input: {incidentId: $id, body: $body}) {
    comment { body } errors { code message retryAfter }
  }
}
"""


class Clock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def _app(
    settings: Settings, clock: Clock, *, address: str = "127.0.0.1"
) -> AsyncIterator[GraphQLClient]:
    """An app of its own (its own rate-limit store client) on the test's database, seen from
    one client address."""
    throttle = Throttle.from_settings(settings, clock=clock)
    app = create_app(settings, manage_database=False, throttle=throttle)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)
    finally:
        await throttle.close()


async def _login(gql: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    """The login's first error, or ``{"token": ...}`` when it succeeded."""
    data = await gql.execute(LOGIN, {"email": email, "password": password})
    answer = data["login"]
    return {"token": answer["token"]} if answer["token"] else dict(answer["errors"][0])


async def _user(role: Role = Role.USER) -> User:
    """A user whose email is new to every store, Redis included."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    return await accounts.create_user(email=email, name="Ada", role=role, password=PASSWORD)


def _address() -> str:
    """A client address no other test uses (Redis outlives test databases)."""
    return "10." + ".".join(str(b) for b in uuid.uuid4().bytes[:3])


async def test_wrong_passwords_meet_growing_waits_and_then_even_the_right_one_waits(
    settings: Settings,
) -> None:
    # Given an account, and a client whose address is not limited in this test
    settings = settings.model_copy(
        update={"login_max_wait_seconds": 60, "login_free_attempts_per_address": 10_000}
    )
    user = await _user()
    clock = Clock()
    async with _app(settings, clock) as gql:
        # When a script tries 200 wrong passwords, waiting out every 20th refusal
        codes: list[str] = []
        waits: list[int] = []
        for _ in range(200):
            error = await _login(gql, user.email, "wrong-password")
            codes.append(error["code"])
            if error["code"] == "RATE_LIMITED":
                waits.append(error["retryAfter"])
                assert f"try again in {error['retryAfter']} s" in error["message"]
                if len(waits) % 20 == 0:
                    clock.advance(error["retryAfter"])

        # Then five free tries, then one try per wait, each wait twice the last up to the cap
        assert codes[:7] == ["INVALID_CREDENTIALS"] * 6 + ["RATE_LIMITED"]
        assert codes.count("INVALID_CREDENTIALS") == 6 + len(waits) // 20
        assert waits == sorted(waits)
        assert list(dict.fromkeys(waits)) == [1, 2, 4, 8, 16, 32, 60]

        # And the right password is refused while the account waits
        locked = await _login(gql, user.email, PASSWORD)
        assert locked["code"] == "RATE_LIMITED"
        # And accepted once the wait is over, which starts the count afresh
        clock.advance(locked["retryAfter"])
        assert "token" in await _login(gql, user.email, PASSWORD)
        assert (await _login(gql, user.email, "wrong-password"))["code"] == "INVALID_CREDENTIALS"


async def test_one_address_trying_many_accounts_is_held_back(settings: Settings) -> None:
    settings = settings.model_copy(update={"login_free_attempts_per_address": 3})
    user = await _user()
    clock = Clock()
    sprayer = _address()
    async with _app(settings, clock, address=sprayer) as gql:
        # When one address tries a wrong password on four different accounts
        for n in range(4):
            error = await _login(gql, f"victim{n}@example.com", "wrong-password")
            assert error["code"] == "INVALID_CREDENTIALS"
        # Then its next try is refused, whatever account, even with the right password
        assert (await _login(gql, user.email, PASSWORD))["code"] == "RATE_LIMITED"
    # And another address signs the same user in at once
    async with _app(settings, clock, address=_address()) as other:
        assert "token" in await _login(other, user.email, PASSWORD)


async def require_redis() -> None:
    """Skips the test when no Redis answers (fails it when Redis is required)."""
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        async with Redis.from_url(REDIS_URL) as probe:
            await probe.ping()
    except (RedisConnectionError, OSError) as error:
        if REQUIRE_REDIS:
            pytest.fail(f"Redis is required but unreachable: {error}")
        pytest.skip(f"Redis unreachable: {error}")


@pytest.fixture(params=["database", "redis"])
async def store_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    if request.param == "database":
        return settings
    await require_redis()
    return settings.model_copy(update={"redis_url": REDIS_URL})


async def test_limits_hold_across_app_instances(store_settings: Settings) -> None:
    # Given two server instances on the same database (and Redis, when configured)
    user = await _user()
    clock = Clock()
    address = _address()
    async with (
        _app(store_settings, clock, address=address) as first,
        _app(store_settings, clock, address=address) as second,
    ):
        # When the wrong passwords are spread over both
        for n in range(6):
            error = await _login((first, second)[n % 2], user.email, "wrong-password")
            assert error["code"] == "INVALID_CREDENTIALS"
        # Then each refuses the next attempt, the right password included
        for gql in (first, second):
            refused = await _login(gql, user.email, PASSWORD)
            assert (refused["code"], refused["retryAfter"]) == ("RATE_LIMITED", 1)


async def test_a_scripts_31st_write_in_a_minute_is_refused_and_writes_nothing(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given a user and an incident
    script = await make_person(Role.USER)
    other = await make_person(Role.USER)
    incident = await service.report_incident(actor=other.user, description="Printer jam")
    incident_id = to_global_id("Incident", incident.id)
    clock = Clock()
    async with _app(settings, clock) as gql:
        # When a script comments 30 times at once, then once more
        for n in range(30):
            data = await gql.execute(COMMENT, {"id": incident_id, "body": f"#{n}"}, as_=script)
            assert data["addComment"]["errors"] == []
        data = await gql.execute(COMMENT, {"id": incident_id, "body": "31st"}, as_=script)

        # Then the 31st is refused with the wait for the next one, and nothing is written
        [error] = data["addComment"]["errors"]
        assert (error["code"], error["retryAfter"]) == ("RATE_LIMITED", 2)
        assert data["addComment"]["comment"] is None
        assert await Comment.filter(incident_id=incident.id).count() == 30
        # And someone else still writes
        data = await gql.execute(COMMENT, {"id": incident_id, "body": "me"}, as_=other)
        assert data["addComment"]["errors"] == []
        # And the script writes again after the wait
        clock.advance(2)
        data = await gql.execute(COMMENT, {"id": incident_id, "body": "later"}, as_=script)
        assert data["addComment"]["errors"] == []


async def test_parallel_logins_hash_a_bounded_number_of_passwords_at_once(
    settings: Settings,
) -> None:
    # Given an app allowing two hashes at once, and an address not limited in this test
    settings = settings.model_copy(
        update={"password_hashes_at_once": 2, "login_free_attempts_per_address": 10_000}
    )
    accounts.hashing.peak = 0
    async with _app(settings, Clock()) as gql:
        # When 40 logins arrive at once (each one's password is checked)
        errors = await asyncio.gather(
            *(_login(gql, f"crowd{n}@example.com", "wrong-password") for n in range(40))
        )
    # Then all were answered, but never more than two hashes ran together
    assert [e["code"] for e in errors] == ["INVALID_CREDENTIALS"] * 40
    assert 1 <= accounts.hashing.peak <= 2
