"""PostgreSQL cancels any statement that runs past GQL_SUPPORT_STATEMENT_TIMEOUT, so no
request holds a pooled connection for long; the client is told so with the code TIMEOUT.

A statement is held up deterministically: another connection holds a lock the request's
statements wait for, and waiting counts towards the timeout. Nothing here is timed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from gql_support import db
from gql_support.accounts.models import Role
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson

INCIDENTS = "query { incidents { totalCount nodes { number } } }"
REPORT = """
mutation { reportIncident(input: {description: "Printer jam"}) { incident { number } } }
"""

#: Seconds before a request still waiting fails the test.
DEADLINE = 30
pytestmark = pytest.mark.parametrize("backend", ["postgres"])


@asynccontextmanager
async def _incidents_locked(settings: Settings) -> AsyncIterator[None]:
    """The incident table locked by another connection for the duration of the block."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


@pytest.fixture
async def short_timeout(settings: Settings) -> Settings:
    """The test's database, reopened with a statement timeout of a fifth of a second."""
    await db.close_database()
    shorter = settings.model_copy(update={"statement_timeout": 0.2})
    await db.open_database(shorter)
    return shorter


async def test_a_statement_past_the_timeout_is_cancelled_with_the_code_timeout(
    short_timeout: Settings,
    gql: GraphQLClient,
    make_person: MakePerson,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await make_person(Role.USER)

    async with _incidents_locked(short_timeout):
        # A deadline, not a measure: without a timeout these would wait for ever.
        with caplog.at_level(logging.INFO, logger="gql_support"):
            read = await asyncio.wait_for(gql.post(INCIDENTS, as_=user), DEADLINE)
            write = await asyncio.wait_for(gql.post(REPORT, as_=user), DEADLINE)
    # Logged as one WARNING line each, no traceback: a load problem, not a bug
    logged = [r for r in caplog.records if r.name.startswith("gql_support")]
    assert [(r.levelno, r.exc_info) for r in logged] == [(logging.WARNING, None)] * 2
    assert all("timed out" in r.getMessage() for r in logged)

    for response in (read, write):
        assert response.status_code == 200, response.text
        errors = response.json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["TIMEOUT"], errors
        assert "too long" in errors[0]["message"]
    # The connections are usable again, and the cancelled report was not stored.
    data = await gql.execute(INCIDENTS, as_=user)
    assert data["incidents"] == {"totalCount": 0, "nodes": []}
