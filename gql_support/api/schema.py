"""The assembled GraphQL schema; ``python -m gql_support.api.schema`` prints its SDL."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.extensions import MaskErrors

from gql_support.api.errors import should_mask
from gql_support.api.mutations import Mutation
from gql_support.api.queries import Query
from gql_support.api.subscriptions import Subscription
from gql_support.api.types import Incident, IncidentEvent, Reference, User

_TYPES = [User, Incident, IncidentEvent, Reference]


def build_schema(*, debug: bool = False) -> strawberry.Schema:
    """The schema; outside debug mode, unexpected errors reach clients masked."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=_TYPES,
        extensions=[] if debug else [partial(MaskErrors, should_mask_error=should_mask)],
    )


if __name__ == "__main__":
    print(build_schema().as_str())
