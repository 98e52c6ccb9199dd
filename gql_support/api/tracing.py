"""OpenTelemetry traces of every operation, through Strawberry's OpenTelemetryExtension, when
``GQL_SUPPORT_OTEL_ENDPOINT`` names an OTLP/HTTP collector. The packages are an optional extra
(``pip install 'gql-support[otel]'``), imported only then.

A span carries the operation's name, its steps (parsing, validation, each resolver) and the
path of each field, never a value the client sent: the document's text (its literals may be
a password) and the resolvers' arguments are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

from strawberry.extensions import LifecycleStep, SchemaExtension

from gql_support.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "gql-support"


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting in batches to the configured collector; None when none is."""
    if settings.otel_endpoint is None:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise RuntimeError(
            "GQL_SUPPORT_OTEL_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'gql-support[otel]'"
        ) from error
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint))
    )
    return provider


def _no_arguments(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


def extension(provider: TracerProvider) -> Callable[[], SchemaExtension]:
    """Strawberry's OpenTelemetryExtension on ``provider``, without the client's values."""
    from strawberry.extensions.tracing import OpenTelemetryExtension

    class Tracing(OpenTelemetryExtension):
        def on_operation(self) -> Generator[None, None, None]:
            steps = super().on_operation()
            next(steps)
            # Strawberry records the document as the span's "query": overwrite it.
            self._span_holder[LifecycleStep.OPERATION].set_attribute("query", "(not recorded)")
            yield
            next(steps, None)

    return partial(Tracing, tracer_provider=provider, arg_filter=_no_arguments)
