"""The assembled GraphQL schema; ``python -m gql_support.api.schema`` prints its SDL."""

from __future__ import annotations

from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types.execution import ExecutionContext

from gql_support.api.errors import should_mask
from gql_support.api.mutations import Mutation
from gql_support.api.queries import Query
from gql_support.api.subscriptions import Subscription
from gql_support.api.types import Incident, IncidentEvent, Reference, User

_TYPES = [User, Incident, IncidentEvent, Reference]


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors written for clients (UNAUTHENTICATED, bad cursors) are not server problems:
        # log only the unexpected ones.
        super().process_errors([e for e in errors if should_mask(e)], execution_context)


def build_schema(*, debug: bool = False) -> strawberry.Schema:
    """The schema; outside debug mode, unexpected errors reach clients masked."""
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=_TYPES,
        extensions=[] if debug else [partial(MaskErrors, should_mask_error=should_mask)],
    )


if __name__ == "__main__":
    print(build_schema().as_str())
