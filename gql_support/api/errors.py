"""How domain errors reach clients: as ``UserError``s in payloads, or as coded GraphQL errors
where a query has no payload to carry them."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission

from gql_support.errors import DomainError, ErrorCode
from gql_support.live.bus import SubscriberTooSlow

strawberry.enum(ErrorCode, name="UserErrorCode")


@strawberry.type(
    description="A problem with the input that the caller can fix; nothing was changed."
)
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "status"].'
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)


def query_error(error: DomainError) -> GraphQLError:
    """A domain error raised while reading, as a GraphQL error carrying its code."""
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})


class IsAuthenticated(BasePermission):
    message = "sign in first: send Authorization: Bearer <token>"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.viewer is not None


def should_mask(error: GraphQLError) -> bool:
    """Hide the text of unexpected errors; keep the ones written for clients."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | SubscriberTooSlow)
