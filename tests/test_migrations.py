"""The migrations build the whole schema on an empty database, on SQLite and PostgreSQL, and
say exactly what the models say."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.autodetector import MigrationAutodetector

from gql_support import db
from gql_support.accounts.models import ApiToken, User
from gql_support.incidents.models import (
    Comment,
    Incident,
    IncidentCounter,
    IncidentEvent,
    IncidentSupporter,
    IncidentWatcher,
    Reference,
)
from gql_support.notify.models import OutboxMessage
from gql_support.settings import Settings
from tests.conftest import _pg_admin, _pg_url

MODELS = [
    User,
    ApiToken,
    Incident,
    IncidentCounter,
    IncidentSupporter,
    IncidentWatcher,
    Comment,
    Reference,
    IncidentEvent,
    OutboxMessage,
]


@pytest.fixture
async def empty_database(backend: str, template: Any, tmp_path: Path) -> AsyncIterator[Settings]:
    """A database with nothing in it (not cloned from the template)."""
    EXECUTOR_CACHE.clear()
    if backend == "sqlite":
        yield Settings(database_url=f"sqlite://{tmp_path / 'fresh' / 'desk.sqlite3'}")
        return
    name = f"gqls_fresh_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=_pg_url(name))
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tables(backend: str) -> set[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        if backend == "sqlite"
        else "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    )
    _, rows = await connections.get("default").execute_query(sql)
    return {row["name"] for row in rows}


async def _columns(backend: str, table: str) -> set[str]:
    if backend == "sqlite":
        _, rows = await connections.get("default").execute_query(f'PRAGMA table_info("{table}")')
        return {row["name"] for row in rows}
    _, rows = await connections.get("default").execute_query(
        "SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1",
        [table],
    )
    return {row["name"] for row in rows}


async def test_migrating_an_empty_database_builds_the_schema(
    backend: str, empty_database: Settings
) -> None:
    # When an empty database is migrated (twice: the second run has nothing to do)
    await db.migrate(empty_database)
    await db.migrate(empty_database)

    # Then every model has its table, with the model's columns
    await db.open_database(empty_database)
    try:
        tables = await _tables(backend)
        assert {model._meta.db_table for model in MODELS} <= tables
        assert "tortoise_migrations" in tables
        for model in MODELS:
            expected = set(model._meta.fields_db_projection.values())
            assert await _columns(backend, model._meta.db_table) == expected, model.__name__

        # And every migration is recorded, once
        _, applied = await connections.get("default").execute_query(
            "SELECT app, name FROM tortoise_migrations ORDER BY name"
        )
        assert [(r["app"], r["name"]) for r in applied] == [
            ("models", "0001_initial"),
            ("models", "0002_counter_and_search"),
            ("models", "0004_outbox"),
        ]

        # And the Request ID counter starts at zero, in its single row
        counters = await IncidentCounter.all().values_list("id", "value")
        assert [tuple(c) for c in counters] == [(1, 0)]
    finally:
        await db.close_database()


async def test_the_search_index_exists_only_on_postgres(
    backend: str, empty_database: Settings
) -> None:
    await db.migrate(empty_database)
    await db.open_database(empty_database)
    try:
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if backend == "sqlite"
            else "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'incident'"
        )
        _, rows = await connections.get("default").execute_query(sql)
        names = {row["name"] for row in rows}
        assert ("incident_search_idx" in names) is (backend == "postgres")
    finally:
        await db.close_database()


async def test_the_models_match_the_migrations(settings: Settings) -> None:
    # Given the apps as Tortoise loaded them, with our migrations package
    apps = Tortoise.apps
    assert apps is not None
    apps_config = db.tortoise_config(settings)["apps"]
    # When makemigrations' autodetector compares them with the migrations
    changes = await MigrationAutodetector(apps, apps_config).changes()
    # Then it has nothing to write
    assert [(w.name, [op.describe() for op in w.operations]) for w in changes] == []
