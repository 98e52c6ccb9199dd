"""The floor of ``bench.py save``: Save/Send (a status move and a comment) as plain Starlette +
asyncpg, writing what gql-support writes for it in one transaction: the incident (status, rank,
version, search document), the comment, two history rows, one outbox row per person told, the
change-log row and its NOTIFY.

Run by bench.py:  python benchmarks/save_floor.py DATABASE_URL PORT ACTOR_ID
It takes {"incidentId": N, "status": S, "statusRank": R, "comment": TEXT} and answers the
incident's number, status and version. Nothing else: no authentication, no GraphQL, no ORM, no
checks of the workflow or of who may move it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LOCK = "SELECT id, number, status, search_document, reporter_id, assigned_to_id FROM incident"
LOCK += " WHERE id = $1 FOR UPDATE"
UPDATE = """
UPDATE incident SET status = $2, status_rank = $3, version = version + 1,
  search_document = search_document || E'\\n' || $4, updated_at = $5
WHERE id = $1 RETURNING version
"""
COMMENT = """
INSERT INTO comment (incident_id, author_id, body, created_at) VALUES ($1, $2, $3, $4)
RETURNING id
"""
EVENTS = """
INSERT INTO incident_event (incident_id, kind, actor_id, at, field, from_value, to_value)
VALUES ($1, 'STATUS_CHANGED', $2, $3, 'status', $4, $5),
       ($1, 'COMMENTED', $2, $3, NULL, NULL, $6)
RETURNING id
"""
PEOPLE = """
SELECT id, email, name, locale, time_zone FROM "user"
WHERE is_active AND id <> $2 AND (id = ANY($3) OR id IN (
  SELECT user_id FROM incident_watcher WHERE incident_id = $1
  UNION SELECT user_id FROM incident_supporter WHERE incident_id = $1))
"""
OUTBOX = """
INSERT INTO outbox_message (incident_id, recipient_id, reason, to_address, to_name, locale,
  time_zone, payload, status, attempts, next_attempt_at, created_at)
SELECT $1, r.id, 'WATCHER', r.email, r.name, r.locale, r.time_zone, $3::jsonb, 'PENDING', 0, $2,
  $2
FROM jsonb_to_recordset($4::jsonb)
  AS r(id int, email text, name text, locale text, time_zone text)
"""
CHANGE = """
INSERT INTO incident_change (incident_id, kind, event_ids, before, created_at)
VALUES ($1, 'UPDATED', $2::jsonb, $3::jsonb, $4) RETURNING id
"""


def app(database_url: str, actor_id: int) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
        yield
        await pool.close()

    async def save(request: Request) -> Response:
        assert pool is not None
        asked = await request.json()
        incident_id, status, comment = asked["incidentId"], asked["status"], asked["comment"]
        now = datetime.now(UTC)
        async with pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(LOCK, incident_id)
            version = await connection.fetchval(
                UPDATE, incident_id, status, asked["statusRank"], comment, now
            )
            await connection.fetchval(COMMENT, incident_id, actor_id, comment, now)
            events = await connection.fetch(
                EVENTS, incident_id, actor_id, now, row["status"], status, comment[:200]
            )
            told = [
                r for r in await connection.fetch(PEOPLE, incident_id, actor_id, [
                    i for i in (row["reporter_id"], row["assigned_to_id"]) if i is not None
                ])
            ]  # fmt: skip
            payload = {"incident": row["number"], "status": status, "comment": comment}
            if told:
                await connection.execute(
                    OUTBOX, incident_id, now, json.dumps(payload),
                    json.dumps([dict(r) for r in told]),
                )  # fmt: skip
            change = await connection.fetchval(
                CHANGE, incident_id, json.dumps([e["id"] for e in events]),
                json.dumps({"status": row["status"]}), now,
            )  # fmt: skip
            await connection.execute("SELECT pg_notify('gql_support_changes', $1)", str(change))
        return JSONResponse({"number": row["number"], "status": status, "version": version})

    return Starlette(routes=[Route("/save", save, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    uvicorn.run(
        app(sys.argv[1], int(sys.argv[3])),
        port=int(sys.argv[2]),
        log_level="warning",
        access_log=False,
    )
