"""How errors reach clients: the one boundary between the server's errors and GraphQL.

    error raised by a resolver …
    ├── DomainError in a mutation      → UserErrors: the payload, every field null but ``errors``
    │                                    (and ``clientMutationId``, echoed)
    ├── DomainError in a query, a      → ClientErrors: a GraphQL error whose ``extensions`` carry
    │   field of one, or a subscription  ``code`` and ``field``
    ├── the database's statement       → ClientErrors: a GraphQL error with code ``TIMEOUT``,
    │   timeout                          in every mode (the request was too heavy)
    ├── the database or Redis is       → ClientErrors: a GraphQL error with code ``UNAVAILABLE``,
    │   unreachable (down, restarting)   in every mode (try again shortly); a token that cannot
    │                                    be checked then is answered 503 (see ``api.app``)
    ├── the database went away during  → ClientErrors: code ``OUTCOME_UNKNOWN``: the change may
    │   a change's commit (incidents,    be kept or not; read before retrying
    │   accounts: ``db.transaction``)
    └── anything else, a bug           → ClientErrors: masked as "Unexpected error." (not in
                                         debug; production adds the request id, see ``schema``)

Resolvers raise domain errors and never catch them; ``IsAuthenticated`` refuses with
``UNAUTHENTICATED`` before a resolver runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension, MaskErrors
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.permission import BasePermission
from strawberry.types.field import StrawberryField

from gql_support import metrics
from gql_support.db import OutcomeUnknown, is_statement_timeout, is_unavailable
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


class UserErrors(FieldExtension):
    """On a mutation: a ``DomainError`` becomes its payload, with the error in ``errors``."""

    def apply(self, field: StrawberryField) -> None:
        self.field = field

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Any, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as error:
            metrics.ERRORS.labels(error.code.value, "payload").inc()
            return failed_payload(self.field.type, error, kwargs.get("input"))


def failed_payload(payload_type: Any, error: DomainError, input: object) -> Any:
    """The payload of a refused mutation: the error, the client's mutation id, nothing else."""
    names = {f.name for f in dataclasses.fields(payload_type)}
    assert "errors" in names, f"{payload_type.__name__} needs an errors field"
    values: dict[str, Any] = dict.fromkeys(names)
    values["errors"] = [UserError.from_domain(error)]
    if "client_mutation_id" in names:
        values["client_mutation_id"] = getattr(input, "client_mutation_id", None)
    return payload_type(**values)


def mutation(*, signed_in: bool = True, description: str | None = None) -> StrawberryField:
    """Declares a mutation: signed-in only unless said otherwise, domain errors in its payload.
    Every mutation is declared with it, so none maps errors its own way."""
    field: StrawberryField = strawberry.mutation(
        permission_classes=[IsAuthenticated] if signed_in else [],
        extensions=[UserErrors()],
        description=description,
    )
    return field


def coded(error: DomainError) -> GraphQLError:
    """A domain error where no payload carries it, as a GraphQL error with its code."""
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})


class IsAuthenticated(BasePermission):
    message = "sign in first: send Authorization: Bearer <token>"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.viewer is not None


def is_unexpected(error: GraphQLError) -> bool:
    """Whether an error is a server problem, rather than one written for clients."""
    original = error.original_error
    return original is not None and not isinstance(
        original, GraphQLError | SubscriberTooSlow | DomainError
    )


#: What a client reads when a server the request needs cannot be reached.
UNAVAILABLE_MESSAGE = (
    "the service is unavailable for a moment (its database is unreachable): try again shortly"
)


#: What a client reads when the database went away while its change was being committed.
OUTCOME_UNKNOWN_MESSAGE = (
    "the database went away while your change was being saved: it may or may not have been "
    "kept; read it again before retrying"
)


def unavailable(error: GraphQLError) -> bool:
    """Whether a server the field needs (the database, Redis) could not be reached."""
    return is_unavailable(error.original_error)


def timed_out(error: GraphQLError) -> bool:
    """Whether the database cancelled one of the field's statements for running too long."""
    return is_statement_timeout(error.original_error)


class ClientErrors(MaskErrors):
    """On every operation, the errors rewritten for clients: a ``DomainError`` that escaped a
    resolver becomes a coded GraphQL error, a statement timeout the code ``TIMEOUT`` (its
    request was too heavy), an unreachable database ``UNAVAILABLE``, and other unexpected
    errors are masked unless ``debug``."""

    def __init__(self, *, debug: bool = False) -> None:
        super().__init__(should_mask_error=self._rewrites)
        self.debug = debug

    def _rewrites(self, error: GraphQLError) -> bool:
        return (
            isinstance(error.original_error, DomainError | OutcomeUnknown)
            or timed_out(error)
            or unavailable(error)
            or (not self.debug and is_unexpected(error))
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DomainError):
            message, extensions = original.message, coded(original).extensions
        elif isinstance(original, OutcomeUnknown):
            message, extensions = OUTCOME_UNKNOWN_MESSAGE, {"code": "OUTCOME_UNKNOWN"}
        elif timed_out(error):
            message = "the database took too long over this request: ask for less and try again"
            extensions = {"code": "TIMEOUT"}
        elif unavailable(error):
            message, extensions = UNAVAILABLE_MESSAGE, {"code": "UNAVAILABLE"}
        else:
            return self.masked(error)
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )

    def masked(self, error: GraphQLError) -> GraphQLError:
        """An unexpected error as clients see it."""
        return super().anonymise_error(error)
