"""The assembled GraphQL schema; ``python -m gql_support.api.schema`` prints its SDL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from gql_support.api.context import Context
from gql_support.api.errors import ClientErrors, should_mask, timed_out
from gql_support.api.multicast import shareable, subscribe_shared, viewer_dependent
from gql_support.api.mutations import Mutation
from gql_support.api.queries import Query
from gql_support.api.subscriptions import Subscription
from gql_support.api.types import Incident, IncidentEvent, Reference, User

_TYPES = [User, Incident, IncidentEvent, Reference]


class _Schema(strawberry.Schema):
    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> Any:
        # Live subscriptions over WebSocket run once for all identical subscribers.
        if (
            query is not None
            and isinstance(context_value, Context)
            and isinstance(context_value.request, WebSocket)
            and (document := shareable(query, operation_name)) is not None
        ):

            async def start() -> AsyncIterator[Any]:
                source = await super(_Schema, self).stream(
                    query, variable_values, context_value, root_value, operation_name
                )
                async with aclosing(source):
                    async for result in source:
                        yield result

            return subscribe_shared(
                query=query,
                variables=variable_values,
                operation_name=operation_name,
                context=context_value,
                per_viewer=viewer_dependent(self._schema, document),
                start=start,
            )
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors written for clients (UNAUTHENTICATED, bad cursors) are not server problems:
        # log only the unexpected ones.
        super().process_errors([e for e in errors if should_mask(e)], execution_context)


def build_schema(*, debug: bool = False) -> strawberry.Schema:
    """The schema; outside debug mode, unexpected errors reach clients masked; in every mode a
    statement timeout reaches them as ``TIMEOUT``."""
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=_TYPES,
        extensions=[partial(ClientErrors, should_mask_error=timed_out if debug else should_mask)],
    )


if __name__ == "__main__":
    print(build_schema().as_str())
