"""What a load balancer, an orchestrator and Prometheus ask the server, apart from GraphQL.

    GET /healthz   200 ``ok`` while the process serves requests; touches nothing else (liveness)
    GET /readyz    200 when the database answers and the live-update bus is connected, else 503;
                   the body names each part's state (readiness: take the process out of the
                   balancer until it recovers, do not restart it)
    GET /metrics   the Prometheus exposition (``gql_support.metrics``); 404 unless
                   ``metrics_token`` is set, and then only with ``Authorization: Bearer <it>``

None of them reads a user's token: the authentication middleware leaves these paths alone.
An anonymous request costs ``/healthz`` nothing, ``/readyz`` one ``SELECT 1`` (cut off after
``PROBE_TIMEOUT`` seconds), and ``/metrics`` a comparison of the token, before anything else.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from tortoise import connections

from gql_support import metrics
from gql_support.live import bus
from gql_support.notify.admin import due_backlog

log = logging.getLogger(__name__)
PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: How long the database may take to answer a probe before it counts as unreachable.
PROBE_TIMEOUT = 2.0


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _database_error() -> str | None:
    """None when the database answers ``SELECT 1`` in time, else why it did not."""
    try:
        await asyncio.wait_for(
            connections.get("default").execute_query("SELECT 1"), timeout=PROBE_TIMEOUT
        )
    except TimeoutError:
        error: str | None = f"no answer within {PROBE_TIMEOUT:g} s"
    except Exception as failure:  # any failure means: not ready
        error = f"{type(failure).__name__}: {failure}"[:300]
    else:
        error = None
    metrics.DATABASE_UP.set(error is None)
    return error


def _bus_error() -> str | None:
    connected = bus.current().is_connected
    metrics.BUS_CONNECTED.set(connected)
    return None if connected else "the live-update bus lost its connection and is reconnecting"


async def ready(request: Request) -> Response:
    database, live = await _database_error(), _bus_error()
    return JSONResponse(
        {
            "ready": database is None and live is None,
            "database": database or "ok",
            "bus": live or "ok",
        },
        status_code=200 if database is None and live is None else 503,
        headers={"Cache-Control": "no-store"},
    )


def metrics_endpoint(token: SecretStr | None) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` route's handler for this token (None: the route answers 404)."""
    expected = None if token is None else f"Bearer {token.get_secret_value()}".encode()

    async def serve_metrics(request: Request) -> Response:
        if expected is None:
            return PlainTextResponse("Not Found", status_code=404)
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            return PlainTextResponse(
                "send Authorization: Bearer <GQL_SUPPORT_METRICS_TOKEN>",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if await _database_error() is None:
            try:
                metrics.set_outbox_backlog(*await due_backlog())
            except Exception:  # the database went away since the probe: keep the last figures
                log.warning("could not read the outbox backlog", exc_info=True)
        _bus_error()
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return serve_metrics
