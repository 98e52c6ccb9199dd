"""CPU time of gql-support's process per dashboard page, measured in-process: the ASGI app
called directly (no HTTP client, no socket), one request after another, on a database that
``make bench`` filled. Far less noisy than req/s on a shared machine: another process's load
does not count in this process's CPU time, and PostgreSQL's own work is left out.

Run by hand:
    .venv/bin/python benchmarks/page_cpu.py DATABASE_URL [--pages 300] [--query PAGE]
        [--gc 50000,20,100] [--asyncpg-reset]
e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/gqls_bench_10000 (see bench.py), or a
SQLite URL. It prints the CPU milliseconds per page and the statements per page.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import time
from typing import Any

from bench import PAGE

from gql_support import db
from gql_support.accounts.models import User
from gql_support.accounts.service import issue_token
from gql_support.api.app import _settle_garbage_collector, create_app
from gql_support.settings import Settings


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _request(app: Any, body: bytes, token: str) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


async def main(url: str, pages: int, query: str, gc_thresholds: str | None, reset: bool) -> None:
    settings = Settings(database_url=url, access_log=False, outbox_in_serve=False)
    if reset:
        # asyncpg's own reset on every release (a round trip) instead of db._keep_session.
        connection = db._connection

        def with_reset(settings: Settings) -> Any:
            found = connection(settings)
            if isinstance(found, dict):
                del found["credentials"]["reset"]
            return found

        db._connection = with_reset
    await db.open_database(settings)
    try:
        manager = await User.filter(role="MANAGER").order_by("id").first()
        assert manager is not None, "fill the database first (gql-support demo)"
        token = await issue_token(user=manager)
        app = create_app(settings, manage_database=False)
        _settle_garbage_collector()
        if gc_thresholds is not None:
            gc.set_threshold(*(int(n) for n in gc_thresholds.split(",")))
        body = json.dumps({"query": query}).encode()
        answer = json.loads(await _request(app, body, token))
        assert "errors" not in answer, answer
        for _ in range(30):
            await _request(app, body, token)
        counter = _Count()
        logger = logging.getLogger("tortoise.db_client")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
        await _request(app, body, token)
        logger.removeHandler(counter)
        logger.setLevel(logging.WARNING)
        before = sum(generation["collections"] for generation in gc.get_stats())
        started, wall = time.process_time(), time.perf_counter()
        for _ in range(pages):
            await _request(app, body, token)
        collections = round(
            100 * (sum(generation["collections"] for generation in gc.get_stats()) - before) / pages
        )
        cpu = 1000 * (time.process_time() - started) / pages
        wall_ms = 1000 * (time.perf_counter() - wall) / pages
        print(
            f"{url.split('@')[-1]}: {cpu:.2f} ms CPU per page ({wall_ms:.2f} ms wall, one "
            f"client), {counter.count} statements per page (token lookup included); "
            f"gc thresholds {gc.get_threshold()}, {collections} collections per 100 pages"
            f"{', asyncpg reset' if reset else ''}"
        )
    finally:
        await db.close_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("database_url")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--query", default=PAGE)
    parser.add_argument("--gc", metavar="G0,G1,G2", help="garbage collector thresholds to try")
    parser.add_argument(
        "--asyncpg-reset", action="store_true", help="let asyncpg reset each released connection"
    )
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.pages, args.query, args.gc, args.asyncpg_reset))
