"""GraphQL over HTTP's response rules: which media type answers a request, and which status.

    client's Accept                               response's Content-Type
    application/graphql-response+json (preferred  application/graphql-response+json
      at least as much as application/json)
    anything else, */*, or no Accept              application/json (for older clients)

    what happened                  graphql-response+json        application/json
    the operation ran (``data``    200                          200
      present, even null)
    a request error: the document  400, no ``data``             200, no ``data``
      did not parse or validate,
      its variables did not coerce,
      a request limit refused it
    a server error before any      500, no ``data``             200, no ``data``
      field ran
    a bad HTTP request (no query,  4xx as the case says (400, 405 for a mutation over GET with
      bad JSON, body too large)    ``Allow: POST``, 413…), in the negotiated media type

A request error is recognised by its shape, as the GraphQL spec defines it: no field was
resolved (``data`` is null) and no error has a ``path``. Every response says ``Vary: Accept``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def media_type(accept: str | None) -> str:
    """The media type to answer with: ``application/graphql-response+json`` when the client
    names it and prefers it at least as much as ``application/json``, else
    ``application/json`` (also for ``*/*`` and no Accept at all, as older clients send)."""
    qualities: dict[str, float] = {}
    for item in (accept or "").split(","):
        kind, *parameters = item.split(";")
        kind = kind.strip().lower()
        if kind in (GRAPHQL_RESPONSE, JSON):
            qualities[kind] = max(qualities.get(kind, 0.0), _quality(parameters))
    preferred = qualities.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= qualities.get(JSON, 0.0) else JSON


def negotiated(headers: Headers | Mapping[str, str]) -> str:
    """The media type for a request with these headers."""
    return media_type(headers.get("accept"))


def is_request_error(result: Mapping[str, Any]) -> bool:
    """Whether a GraphQL response reports an operation that never ran: errors, no data, and
    no error raised by a field (which would carry its ``path``)."""
    errors = result.get("errors") or ()
    return result.get("data") is None and bool(errors) and all(not e.get("path") for e in errors)


def status_code(result: Mapping[str, Any], media: str) -> int:
    """The status of a GraphQL response: as the media type's rules say (table above)."""
    if media != GRAPHQL_RESPONSE or "data" in result:
        return 200
    codes = {(error.get("extensions") or {}).get("code") for error in result.get("errors") or ()}
    return 500 if "INTERNAL_SERVER_ERROR" in codes else 400


def refusal(
    status: int, code: str, message: str, headers: Headers | Mapping[str, str], **extra: str
) -> Response:
    """A refusal before GraphQL runs, shaped as a GraphQL response without ``data``, in the
    media type the request accepts."""
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers={"Vary": "Accept", **extra},
        media_type=negotiated(headers),
    )
