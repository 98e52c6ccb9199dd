"""What a client is told when the database (or Redis) is out of reach and the failure escapes
the code that served it: one place for every route, HTTP and WebSocket.

    HTTP request (an attachment, a sign-in,   503, ``Retry-After``, a GraphQL-shaped error with
      an export, anything before GraphQL)       code ``UNAVAILABLE``, in the negotiated media type
    WebSocket (``connection_init``, a          closed with 1013 "Try Again Later" (RFC 6455's
      subscription's session check)              registry), whose reason starts ``UNAVAILABLE``:
                                                 graphql-ws clients reconnect on it

Either way one WARNING line is logged, no traceback: an outage is expected, and the log of a
PostgreSQL restart is not buried under identical tracebacks. Any other error goes on up (a bug:
500, logged with its traceback). GraphQL's own fields answer ``UNAVAILABLE`` in their errors
(``api.errors``); the token check answers 503 itself (``api.app``).
"""

from __future__ import annotations

import contextlib
import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_support.api.errors import UNAVAILABLE_MESSAGE
from gql_support.api.responses import refusal
from gql_support.db import is_unavailable

#: Seconds a client is asked to wait when the database is unreachable.
RETRY_AFTER_SECONDS = 5
#: WebSocket close code "Try Again Later" (IANA WebSocket Close Code Number Registry).
TRY_AGAIN_LATER = 1013
#: A WebSocket close reason is at most 123 bytes.
CLOSE_REASON = "UNAVAILABLE: the database is unreachable; try again shortly"

log = logging.getLogger(__name__)


class OutageAnswers:
    """The ASGI middleware that answers an outage escaping a route (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = ended = False

        async def watched(message: Message) -> None:
            nonlocal started, ended
            if message["type"] in ("http.response.start", "websocket.accept"):
                started = True
            elif message["type"] in ("websocket.close", "websocket.http.response.start"):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if not is_unavailable(error) or (scope["type"] == "http" and started) or ended:
                raise
            log.warning(
                "%s %s answered UNAVAILABLE: %s: %s",
                scope["type"],
                scope.get("path", ""),
                type(error).__name__,
                error,
            )
            if scope["type"] == "http":
                response = refusal(
                    503,
                    "UNAVAILABLE",
                    UNAVAILABLE_MESSAGE,
                    Headers(scope=scope),
                    **{"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
                await response(scope, receive, send)
                return
            # The client may be gone already: then there is nobody left to tell.
            with contextlib.suppress(Exception):
                await send(
                    {"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": CLOSE_REASON}
                )
