"""OpenTelemetry traces, sent by a real ``gql-support serve`` to a real OTLP/HTTP receiver:
every operation by its name, never a value the client sent."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gql_support.settings import Settings
from tests.conftest import serve_app, served

SECRET = "hunter2-not-for-traces"


async def test_operations_are_traced_without_what_the_client_sent(tmp_path: Path) -> None:
    # Given a collector, and a server sending it traces
    received: list[bytes] = []

    async def collect(request: Request) -> Response:
        received.append(await request.body())
        return Response(b"", media_type="application/x-protobuf")

    collector = Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])])
    embedded = Settings(database_url=f"sqlite://{tmp_path}/desk.sqlite3")
    async with serve_app(collector) as collector_url:
        env = {"GQL_SUPPORT_OTEL_ENDPOINT": f"{collector_url}/v1/traces"}
        async with (
            served(embedded, **env) as server,
            httpx.AsyncClient(base_url=server.url) as http,
        ):
            # When a named query runs, and a login with a password written in the document
            await http.post("/graphql", json={"query": "query TracedHello { __typename }"})
            login = (
                "mutation SignIn { login(input: "
                f'{{email: "a@example.com", password: "{SECRET}"}}) {{ token }} }}'
            )
            await http.post("/graphql", json={"query": login})
        # (the server flushes its spans as it stops)

    # Then the collector has both operations by name, and not the password
    spans = b"".join(received)
    assert b"GraphQL Query: TracedHello" in spans
    assert b"GraphQL Query: SignIn" in spans
    assert b"gql-support" in spans
    assert SECRET.encode() not in spans
