"""The floor of ``make bench``: the dashboard page as plain Starlette + asyncpg, one SQL
statement building the same JSON as gql-support's answer (same 50 incidents, same values).

Run by bench.py:  python benchmarks/floor.py DATABASE_URL PORT
Nothing else: no authentication, no GraphQL, no ORM: what a hand-written endpoint costs.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: {"data": {"incidents": {"totalCount": N, "nodes": [...]}}}, as gql-support answers PAGE.
PAGE_SQL = """
SELECT json_build_object('data', json_build_object('incidents', json_build_object(
  'totalCount', (SELECT count(*) FROM incident),
  'nodes', coalesce((SELECT json_agg(json_build_object(
      'number', i.number, 'description', i.description, 'status', i.status,
      'priority', i.priority,
      'dueDate', to_char(i.due_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00'),
      'reporter', json_build_object('name', r.name),
      'assignedTo', CASE WHEN a.id IS NULL THEN NULL ELSE json_build_object('name', a.name) END,
      'supportedBy', coalesce((SELECT json_agg(json_build_object('name', u.name) ORDER BY u.name)
          FROM incident_supporter s JOIN "user" u ON u.id = s.user_id
          WHERE s.incident_id = i.id), '[]'),
      'comments', json_build_object('totalCount',
          (SELECT count(*) FROM comment c WHERE c.incident_id = i.id))
    ) ORDER BY i.number DESC)
    FROM (SELECT * FROM incident ORDER BY number DESC LIMIT 50) i
    JOIN "user" r ON r.id = i.reporter_id
    LEFT JOIN "user" a ON a.id = i.assigned_to_id), '[]')
)))::text
"""


def app(database_url: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=10, max_size=10)
        yield
        await pool.close()

    async def page(request: Request) -> Response:
        assert pool is not None
        await request.body()
        body = await pool.fetchval(PAGE_SQL)
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", page, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    uvicorn.run(app(sys.argv[1]), port=int(sys.argv[2]), log_level="warning", access_log=False)
