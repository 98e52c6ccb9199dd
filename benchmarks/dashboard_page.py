"""How long the incident dashboard takes to answer, on a database with many incidents.

Run by hand:  .venv/bin/python benchmarks/dashboard_page.py [DATABASE_URL] [INCIDENTS]
(default: a fresh SQLite file under var/bench/, 5,000 incidents). It reports the time to report
the incidents and the p50/p95 latency of a 50-incident dashboard page over HTTP (ASGI), of a
word search, and of the dashboard counts.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

from gql_support import db
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from gql_support.api.app import create_app
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.settings import Settings

PAGE = """
query { incidents(first: 50, orderBy: {field: PRIORITY, direction: ASC}) { totalCount nodes {
  number priority status reporter { name } assignedTo { name } supportedBy { name }
  watchers { name } comments { totalCount } } } }
"""
SEARCH = '{ incidents(filter: {search: "printer"}, first: 50) { totalCount nodes { number } } }'
COUNTS = "{ dashboard { total open overdue byStatus { status count } } }"
WORDS = ["printer", "export", "budget", "forecast", "login", "report", "excel", "timeout"]


async def main(url: str, count: int) -> None:
    settings = Settings(database_url=url)
    await db.migrate(settings)
    await db.open_database(settings)
    manager = await accounts.create_user(
        email="m@bench.example.com", name="Manager", role=Role.MANAGER
    )
    agents = [
        await accounts.create_user(
            email=f"a{i}@bench.example.com", name=f"Agent {i}", role=Role.AGENT
        )
        for i in range(10)
    ]
    token = await accounts.issue_token(user=manager)
    started = time.perf_counter()
    for i in range(count):
        await service.report_incident(
            actor=manager,
            description=f"The {WORDS[i % len(WORDS)]} step fails for team {i}",
            changes=IncidentChanges(
                assigned_to_id=agents[i % 10].id,
                supported_by_ids=[agents[(i + 1) % 10].id],
                watcher_ids=[manager.id],
                comment="First comment",
            ),
        )
    seeding = time.perf_counter() - started
    print(f"{url}: reported {count} incidents in {seeding:.1f} s ({count / seeding:.0f}/s)")

    transport = httpx.ASGITransport(app=create_app(settings, manage_database=False))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, query in (("dashboard page", PAGE), ("search", SEARCH), ("counts", COUNTS)):
            timings = []
            for _ in range(50):
                t0 = time.perf_counter()
                response = await client.post("/graphql", json={"query": query}, headers=headers)
                timings.append((time.perf_counter() - t0) * 1000)
                assert "errors" not in response.json(), response.text
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"  {name:<15} p50 {statistics.median(timings):6.1f} ms   p95 {p95:6.1f} ms")
    await db.close_database()


if __name__ == "__main__":
    default = Path("var/bench") / f"bench-{int(time.time())}.sqlite3"
    database_url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite://{default}"
    asyncio.run(main(database_url, int(sys.argv[2]) if len(sys.argv) > 2 else 5_000))
