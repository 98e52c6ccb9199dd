"""The GraphQL side of ``gql_support.metrics``: each operation counted and timed under its
name and type, and each error sent to a client counted by its code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gql_support import metrics
from gql_support.api.errors import is_unexpected


def error_code(error: GraphQLError) -> str:
    """The code a client sees on an error; graphql-core's own (syntax, validation, variables)
    carry none and count as ``GRAPHQL_ERROR``."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    return "INTERNAL_SERVER_ERROR" if is_unexpected(error) else "GRAPHQL_ERROR"


class Measure(SchemaExtension):
    """Counts and times every operation, and counts the errors of its result. Listed first
    among the schema's extensions, it sees the errors as clients do (masked, coded)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except RuntimeError:  # the document did not parse, or named no operation of it
            kind = "unknown"
        labels = (metrics.operation_label(context.operation_name), kind)
        metrics.GRAPHQL_REQUESTS.labels(*labels).inc()
        metrics.GRAPHQL_DURATION.labels(*labels).observe(time.perf_counter() - started)
        result = context.result
        for error in getattr(result, "errors", None) or context.pre_execution_errors or ():
            metrics.ERRORS.labels(error_code(error), "graphql").inc()


async def counted_subscription(source: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``source``, counted in ``subscriptions_active`` while it runs."""
    with metrics.SUBSCRIPTIONS_ACTIVE.track_inprogress():
        async with aclosing(source):  # type: ignore[type-var]
            async for result in source:
                yield result
