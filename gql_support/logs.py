"""How the server logs: uvicorn's configuration plus ours, as text (the default) or one JSON
object per line (``GQL_SUPPORT_LOG_FORMAT=json``), every line written while a request (or a
WebSocket connection) is handled carrying its request id.

    request_id          the id of the request being handled (a context variable: set by the
                        RequestId middleware, read by every log line under it)
    RequestId           the ASGI middleware that names each request and WebSocket connection
    WithRequestId       a filter that puts it on each record, as ``record.request_id``
    WithoutQueryString  drops the query string from access lines (signed links carry theirs)
    JsonFormatter       time, level, logger, message, request_id, and the exception if any
    failure             logs a failure: one WARNING line for an outage or a statement
                        timeout, ERROR with the traceback for anything else (a bug)
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from gql_support.db import is_statement_timeout, is_unavailable

#: The request being handled, for every log line written meanwhile.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


#: An id a proxy may have given the request already (``X-Request-ID``), kept if it is this plain.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestId:
    """Names each HTTP request and WebSocket connection: the proxy's ``X-Request-ID`` when it
    is plain, else a fresh one; every log line written meanwhile carries it, masked errors
    quote it, and HTTP responses return it as ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        name = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), _id_header(name)]}
            await send(message)

        token = request_id.set(name)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


def failure(logger: logging.Logger, error: BaseException, message: str, *args: object) -> None:
    """Logs a failure. When a server it needed (the database, Redis) was out of reach, that is
    an expected outage: one WARNING line naming the error, as a restart of PostgreSQL would
    otherwise bury the log under identical tracebacks; so is a statement the database cancelled
    at its timeout (the client is told ``TIMEOUT``: the load or the request was too heavy).
    Anything else is a bug: ERROR, with the traceback."""
    kind = (
        "unavailable"
        if is_unavailable(error)
        else "timed out"
        if is_statement_timeout(error)
        else None
    )
    if kind is not None:
        logger.warning(message + " (%s: %s: %s)", *args, kind, type(error).__name__, error)
    else:
        logger.error(message, *args, exc_info=error)


def _id_header(name: str) -> tuple[bytes, bytes]:
    return (b"x-request-id", name.encode())


class WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class WithoutQueryString(logging.Filter):
    """Drops the query string from uvicorn's access log lines: signed download links carry
    their signature there."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs (client, method, path with query string, HTTP version, status).
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, str(path).split("?", 1)[0], version, status)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def config(log_format: Literal["text", "json"]) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for ``serve``: uvicorn's, with the access lines'
    query strings dropped, the request id on every record, and the server's own loggers
    (``gql_support.*``) written beside uvicorn's, at INFO."""
    settings = copy.deepcopy(LOGGING_CONFIG)
    settings.setdefault("filters", {}).update(
        without_query_string={"()": f"{__name__}.WithoutQueryString"},
        with_request_id={"()": f"{__name__}.WithRequestId"},
    )
    settings["handlers"]["access"]["filters"] = ["without_query_string", "with_request_id"]
    settings["handlers"]["default"]["filters"] = ["with_request_id"]
    if log_format == "json":
        for formatter in settings["formatters"].values():
            formatter.clear()
            formatter["()"] = f"{__name__}.JsonFormatter"
    settings["loggers"]["gql_support"] = {"handlers": ["default"], "level": "INFO"}
    return settings
