"""The migrations build the whole schema on an empty database, on SQLite and PostgreSQL, and
say exactly what the models say."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as run_migrations
from tortoise.migrations.autodetector import MigrationAutodetector

from gql_support import db, migrations
from gql_support.accounts import service as accounts
from gql_support.accounts.models import ApiToken
from gql_support.incidents.models import (
    IncidentCounter,
)
from gql_support.notify.models import NoticeReason, OutboxMessage
from gql_support.settings import Settings
from tests.conftest import _pg_admin, _pg_url


def _models() -> list[type[Any]]:
    """Every model Tortoise loaded (the database must be open)."""
    apps = Tortoise.apps
    assert apps is not None
    return list(apps["models"].values())


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


#: Columns no model declares: the database keeps them itself (migration 0009's trigger).
KEPT_BY_THE_DATABASE = {("postgres", "incident"): {"search_vector"}}


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
        assert {model._meta.db_table for model in _models()} <= tables
        assert "tortoise_migrations" in tables
        for model in _models():
            expected = set(model._meta.fields_db_projection.values())
            expected |= KEPT_BY_THE_DATABASE.get((backend, model._meta.db_table), set())
            assert await _columns(backend, model._meta.db_table) == expected, model.__name__

        # And every migration of the package is recorded, once
        _, applied = await connections.get("default").execute_query(
            "SELECT app, name FROM tortoise_migrations ORDER BY name"
        )
        package = Path(migrations.__file__).parent
        assert [(r["app"], r["name"]) for r in applied] == [
            ("models", path.stem) for path in sorted(package.glob("0*.py"))
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


async def test_tokens_issued_before_expiry_existed_get_the_default_lifetime(
    backend: str, empty_database: Settings
) -> None:
    # Given a database at the migration before tokens expired, with a user's token
    folder = empty_database.sqlite_directory()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    await run_migrations(config=db.tortoise_config(empty_database), target="models.0005_outbox")
    await Tortoise.close_connections()
    await db.open_database(empty_database)
    try:
        conn = connections.get("default")
        mark = "?" if backend == "sqlite" else "$1"
        await conn.execute_query(
            'INSERT INTO "user" (name, email, role, locale, is_active, created_at) '
            f"VALUES ('Old', 'old@example.com', 'USER', 'en', {mark}, CURRENT_TIMESTAMP)",
            [True],
        )
        await conn.execute_query(
            "INSERT INTO api_token (user_id, token_hash, created_at) "
            f"VALUES (1, {mark}, CURRENT_TIMESTAMP)",
            [hashlib.sha256(b"gqls_old").hexdigest()],
        )
    finally:
        await db.close_database()

    # When the rest of the migrations run
    await db.migrate(empty_database)

    # Then the old token still signs its user in, for about 30 days from now
    await db.open_database(empty_database)
    try:
        user = await accounts.user_for_token(token="gqls_old")
        assert user is not None
        assert user.email == "old@example.com"
        token = await ApiToken.get(user_id=user.id)
        assert token.expires_at is not None
        left = token.expires_at - datetime.now(UTC)
        assert timedelta(days=29) < left <= timedelta(days=30)
    finally:
        await db.close_database()


async def test_queued_email_survives_the_reminders_migration_in_utc(
    backend: str, empty_database: Settings
) -> None:
    # Given a database at the migration before reminders, with an email queued
    folder = empty_database.sqlite_directory()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    config = db.tortoise_config(empty_database)
    await run_migrations(config=config, target="models.0009_search_vector")
    await Tortoise.close_connections()
    await db.open_database(empty_database)
    try:
        conn = connections.get("default")
        p = ["?"] * 3 if backend == "sqlite" else ["$1", "$2", "$3"]
        await conn.execute_query(
            'INSERT INTO "user" (name, email, role, locale, time_zone, is_active, created_at) '
            f"VALUES ('Old', 'old@example.com', 'USER', 'fr', 'UTC', {p[0]}, CURRENT_TIMESTAMP)",
            [True],
        )
        await conn.execute_query(
            "INSERT INTO incident (number, description, type, impact, urgency, priority, "
            "priority_rank, status, status_rank, reporter_id, version, search_document, "
            "created_at, updated_at) VALUES (1, 'Old', 'DEFECT', 'MEDIUM', 'MEDIUM', 'NORMAL', "
            "2, 'NEW', 0, 1, 1, 'Old', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        await conn.execute_query(
            "INSERT INTO outbox_message (incident_id, recipient_id, reason, to_address, to_name, "
            "locale, payload, status, attempts, next_attempt_at, created_at) VALUES (1, 1, "
            f"'RECEIPT', 'old@example.com', 'Old', 'fr', {p[0]}, 'PENDING', 0, {p[1]}, {p[2]})",
            ['{"incident": {"number": 1}}', datetime.now(UTC), datetime.now(UTC)],
        )
    finally:
        await db.close_database()

    # When the rest of the migrations run
    await db.migrate(empty_database)

    # Then the queued email is still there, to be shown in UTC, and a digest needs no incident
    await db.open_database(empty_database)
    try:
        (queued,) = await OutboxMessage.all()
        assert (queued.incident_id, queued.time_zone) == (1, "UTC")
        await OutboxMessage.create(
            incident_id=None,
            recipient_id=1,
            reason=NoticeReason.DIGEST,
            to_address="old@example.com",
            to_name="Old",
            locale="fr",
            payload={},
            next_attempt_at=datetime.now(UTC),
        )
    finally:
        await db.close_database()
