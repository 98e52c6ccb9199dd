"""How domain errors reach clients: as ``UserError``s in payloads, or as coded GraphQL errors
where a query has no payload to carry them, and the database's statement timeout as a
coded GraphQL error."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.permission import BasePermission

from gql_support.db import is_statement_timeout
from gql_support.errors import DomainError, ErrorCode, RateLimited
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
    retry_after: int | None = strawberry.field(
        default=None, description="For RATE_LIMITED: seconds to wait before trying again."
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        return cls(
            code=error.code, message=error.message, field=error.field, retry_after=retry_after
        )


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


def timed_out(error: GraphQLError) -> bool:
    """Whether the database cancelled one of the field's statements for running too long."""
    return is_statement_timeout(error.original_error)


class ClientErrors(MaskErrors):
    """Masks the errors ``should_mask_error`` picks, except a statement timeout, which the
    client is told about, with the code ``TIMEOUT``: its request was too heavy."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if not timed_out(error):
            return super().anonymise_error(error)
        return GraphQLError(
            "the database took too long over this request: ask for less and try again",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "TIMEOUT"},
        )
