"""Logs an operator can search: one JSON object per line when configured, each line of a
request carrying the id its response returns in ``X-Request-ID``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from gql_support.settings import Settings
from tests.conftest import served


async def test_json_logs_name_the_request_of_every_line(tmp_path: Path) -> None:
    # Given a server logging JSON
    embedded = Settings(database_url=f"sqlite://{tmp_path}/desk.sqlite3")
    async with (
        served(embedded, GQL_SUPPORT_LOG_FORMAT="json") as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        # When requests come, one with an id its proxy gave it, one with an id not plain
        fresh = await http.post("/graphql", json={"query": "query Hello { __typename }"})
        given = await http.get("/healthz", headers={"X-Request-ID": "proxy-id.42"})
        unsafe = await http.get("/healthz", headers={"X-Request-ID": "evil\\nid"})

    # Then each response names its request, and the log line of each carries that name
    assert given.headers["x-request-id"] == "proxy-id.42"
    assert unsafe.headers["x-request-id"] not in ("evil\\nid", "")
    lines = [json.loads(line) for line in server.output.splitlines() if line.startswith("{")]
    assert lines, server.output
    assert {"time", "level", "logger", "message", "request_id"} <= set(lines[0])
    access = {
        line["request_id"]: line["message"] for line in lines if line["logger"] == "uvicorn.access"
    }
    assert '"POST /graphql HTTP/1.1" 200' in access[fresh.headers["x-request-id"]]
    assert '"GET /healthz HTTP/1.1" 200' in access["proxy-id.42"]
    assert unsafe.headers["x-request-id"] in access
    # Lines outside any request (start-up, shut-down) have none
    assert any(line["request_id"] is None for line in lines)
