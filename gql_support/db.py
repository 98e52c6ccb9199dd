"""The database: Tortoise configuration, opening and closing it, and applying migrations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate as run_migrations
from tortoise.queryset import AwaitableQuery
from tortoise.transactions import in_transaction

from gql_support.settings import Settings

#: The largest value of an ``IntField`` (every primary key, incident numbers, versions): a
#: PostgreSQL ``integer``. Larger values from clients are refused before they reach a query.
MAX_INT = 2**31 - 1

MODEL_MODULES = [
    "gql_support.accounts.models",
    "gql_support.incidents.models",
    "gql_support.live.models",
    "gql_support.attachments.models",
    "gql_support.notify.models",
]


async def _keep_session(connection: asyncpg.Connection) -> None:
    """A pooled connection goes back as it is: asyncpg still rolls back an open transaction,
    and nothing here changes session state (no session SET, LISTEN or advisory lock: the live
    bus listens on its own connection), so its reset round trip after every query is saved."""


#: Session settings of every pooled connection. No JIT: it pays for itself on statements that
#: run for seconds, while ours read a page; compiling a search page's expressions took
#: 20 to 60 ms at 1M incidents, more than the page then took to run.
SESSION_SETTINGS = {"jit": "off"}


def _connection(settings: Settings) -> str | dict[str, Any]:
    """The database URL; on PostgreSQL with the pool's size, no reset round trip,
    ``SESSION_SETTINGS``, and ``statement_timeout`` set on every pooled connection when the
    settings ask for one."""
    if not settings.is_postgres:
        return settings.database_url
    connection = expand_db_url(settings.database_url)
    credentials = connection["credentials"]
    credentials.setdefault("maxsize", settings.database_pool_size)
    credentials["reset"] = _keep_session
    server_settings = credentials.setdefault("server_settings", {})
    server_settings.update(SESSION_SETTINGS)
    if settings.statement_timeout:
        timeout = str(max(1, round(settings.statement_timeout * 1000)))
        server_settings["statement_timeout"] = timeout
    return connection


def is_statement_timeout(error: BaseException | None) -> bool:
    """Whether the error is PostgreSQL cancelling a statement that ran past its timeout."""
    while error is not None:
        if isinstance(error, asyncpg.QueryCanceledError):
            return True
        error = error.__cause__
    return False


#: What PostgreSQL (or the network to it) raises while it is down, restarting or gone; a
#: dropped database is ``InvalidCatalogNameError`` (SQLite, a file, has no such outage).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, broken
    asyncpg.PostgresConnectionError,  # class 08, e.g. ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # the connection was closed under the query
    # A pooled connection still consuming the error that PostgreSQL's shutdown sent it
    # ("another operation is in progress"): it closes as soon as the server does.
    asyncpg.InternalClientError,
    DBConnectionError,
    RedisConnectionError,
    RedisTimeoutError,
)


def parameterized(query: AwaitableQuery[Any]) -> tuple[str, list[Any]]:
    """A query's SQL and parameters, built as Tortoise builds them to run it (its ``sql()``
    does the same but drops the parameters)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, parameters = query.query.get_parameterized_sql()
    return sql, list(parameters)


async def planned_rows(sql: str, parameters: list[Any]) -> int:
    """How many rows PostgreSQL's planner guesses a SELECT returns: its statistics, no row
    read."""
    client = connections.get("default")
    rows = await client.execute_query_dict(f"EXPLAIN (FORMAT JSON) {sql}", parameters)
    plan = rows[0]["QUERY PLAN"]
    return int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def is_unavailable(error: BaseException | None) -> bool:
    """Whether the error says a server the request needs (the database, Redis) cannot be
    reached at the moment, rather than that the request or the code is wrong."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _UNAVAILABLE):
            return True
        error = error.__cause__ or error.__context__
    return False


class OutcomeUnknown(Exception):
    """The database went away while a change was being committed: it may or may not be kept.
    Unlike ``UNAVAILABLE`` (nothing was kept, try again), the caller must read before retrying."""


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """``in_transaction``, except that a commit cut off by the database going away raises
    ``OutcomeUnknown``: PostgreSQL may have kept the change before the connection dropped, so
    telling the client "unavailable, try again" could make it apply the change twice."""
    context = in_transaction()
    await context.__aenter__()
    try:
        yield
    except BaseException as error:
        await context.__aexit__(type(error), error, error.__traceback__)
        raise
    try:
        await context.__aexit__(None, None, None)
    except Exception as error:
        if is_unavailable(error):
            raise OutcomeUnknown("the database went away while committing") from error
        raise


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """The Tortoise configuration for the settings' database, with our migrations package."""
    return {
        "connections": {"default": _connection(settings)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "gql_support.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _prepare(settings: Settings) -> None:
    directory = settings.sqlite_directory()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)


async def migrate(settings: Settings) -> None:
    """Brings the database schema up to the latest migration (creating a SQLite file if needed)."""
    _prepare(settings)
    try:
        # A schema change (an index on a large table) takes as long as it needs.
        await run_migrations(
            config=tortoise_config(settings.model_copy(update={"statement_timeout": 0}))
        )
    finally:
        await Tortoise.close_connections()


async def open_database(settings: Settings) -> None:
    """Connects Tortoise to the database, visible to every task of this process."""
    _prepare(settings)
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_database() -> None:
    """Closes every connection Tortoise holds."""
    await Tortoise.close_connections()
