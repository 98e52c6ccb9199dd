"""The assembled GraphQL schema; ``python -m gql_support.api.schema`` prints its SDL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from gql_support import logs
from gql_support.api import tracing
from gql_support.api.context import Context
from gql_support.api.errors import ClientErrors, is_unexpected
from gql_support.api.instrumentation import Measure, counted_subscription
from gql_support.api.limits import Limits, RequestLimits
from gql_support.api.multicast import shareable, subscribe_shared, viewer_dependent
from gql_support.api.mutations import Mutation
from gql_support.api.queries import Query
from gql_support.api.subscriptions import Subscription
from gql_support.api.types import Incident, IncidentEvent, Reference, User
from gql_support.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TYPES = [User, Incident, IncidentEvent, Reference]
logger = logging.getLogger("gql_support.api")


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = None if execution_context is None else execution_context.context
    return context.request_id if isinstance(context, Context) else None


class _MaskWithRequestId(ClientErrors):
    """Masks unexpected errors with the request id their log line carries."""

    def masked(self, error: GraphQLError) -> GraphQLError:
        masked = super().masked(error)
        request_id = _request_id(self.execution_context)
        masked.message = f"Unexpected error (request id {request_id})."
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return masked


async def _only(result: ExecutionResult) -> AsyncIterator[ExecutionResult]:
    yield result


class _NameConverter(NameConverter):
    """Strawberry converts the Python name of each argument of a field to its GraphQL name
    again on every call of its resolver (for ``comments`` and ``history``, on every incident of
    a page); the names are few, so each is converted once."""

    @cache  # noqa: B019 (one converter per schema, as long-lived as it)
    def apply_naming_config(self, name: str) -> str:
        return super().apply_naming_config(name)


class _Schema(strawberry.Schema):
    limits = Limits.from_settings(Settings())

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Checked here, not in an extension: an extension's error while parsing escapes the
        # WebSocket path of ``stream`` unanswered.
        if (refused := self.limits.oversized(query)) is not None:
            return ExecutionResult(data=None, errors=[refused])
        return await super().execute(query, *args, **kwargs)

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        # The keyword arguments Strawberry passes to graphql-core's execute: variable values
        # are coerced there, and a misspelt enum value would be answered with the right one.
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        # Validation's suggestions are hidden by RequestLimits.
        return {**kwargs, "hide_suggestions": not self.limits.suggestions}

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
        if (refused := self.limits.oversized(query)) is not None:
            return _only(ExecutionResult(data=None, errors=[refused]))
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

            return counted_subscription(
                subscribe_shared(
                    query=query,
                    variables=variable_values,
                    operation_name=operation_name,
                    context=context_value,
                    per_viewer=viewer_dependent(self._schema, document),
                    start=start,
                )
            )
        return counted_subscription(
            await super().stream(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors written for clients (UNAUTHENTICATED, bad cursors) are not server problems:
        # log only the unexpected ones. Never ``str(error)``: it quotes the document, whose
        # literals may be a password.
        request_id = _request_id(execution_context)
        operation = None if execution_context is None else execution_context.operation_name
        for error in errors:
            if is_unexpected(error) and error.original_error is not None:
                # An outage (UNAVAILABLE, OUTCOME_UNKNOWN) is one WARNING line, a bug ERROR.
                logs.failure(
                    logger,
                    error.original_error,
                    "unexpected error (request id %s) in operation %s at %s: %s",
                    request_id,
                    operation or "(anonymous)",
                    ".".join(map(str, error.path or ())) or "(no path)",
                    type(error.original_error).__name__,
                )


def build_schema(
    settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None
) -> strawberry.Schema:
    """The schema with the request limits of these settings; domain errors reach clients with
    their code, a statement timeout as ``TIMEOUT``, and outside debug mode unexpected errors
    reach them masked. With a tracer provider, every operation is traced."""
    settings = settings or Settings()
    limits = Limits.from_settings(settings)
    extensions: list[Callable[[], SchemaExtension]] = [
        # First, so that it sees the errors as clients do, after the others rewrote them.
        Measure,
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(RequestLimits, limits=limits),
    ]
    mapping = ClientErrors if settings.debug else _MaskWithRequestId
    extensions.append(partial(mapping, debug=settings.debug))
    if tracer_provider is not None:
        extensions.append(tracing.extension(tracer_provider))
    schema = _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=_TYPES,
        extensions=extensions,
        config=StrawberryConfig(name_converter=_NameConverter()),
    )
    schema.limits = limits
    return schema


if __name__ == "__main__":
    print(build_schema().as_str())
