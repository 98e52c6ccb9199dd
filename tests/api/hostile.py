"""Posting what a hostile client sends: JSON with escapes no UTF-8 encoder accepts (lone
surrogates), and the checks every answer to it must pass."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import GraphQLClient, Person

UNEXPECTED = "Unexpected error."


async def post_raw(
    gql: GraphQLClient, query: str, variables: dict[str, Any], *, as_: Person | None
) -> httpx.Response:
    """Posts the operation as ASCII JSON, so lone surrogates travel as ``\\ud800`` escapes
    (httpx's own encoder refuses them)."""
    headers = {"Content-Type": "application/json"}
    if as_ is not None:
        headers["Authorization"] = f"Bearer {as_.token}"
    body = json.dumps({"query": query, "variables": variables}, allow_nan=False)
    return await gql.http.post("/graphql", content=body, headers=headers)


def assert_client_error_only(response: httpx.Response) -> dict[str, Any]:
    """The answer refuses or accepts, but never fails: no 5xx, no masked error, and every
    error raised while executing carries a code. Errors without a path come from parsing,
    validating or coercing the request (graphql-core's own), before any resolver ran."""
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    for error in body.get("errors") or []:
        assert error["message"] != UNEXPECTED, body
        if "path" in error:
            assert (error.get("extensions") or {}).get("code"), body
    return body
