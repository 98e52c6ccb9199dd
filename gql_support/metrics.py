"""What an operator watches, in the Prometheus format (prometheus-client's default registry):
every metric of the server is declared here, once, and counted where its event happens.

    gql_support_graphql_requests_total{operation,type}          operations run (HTTP and WebSocket)
    gql_support_graphql_request_duration_seconds{operation,type} their latency (histogram; a
                                              subscription's lasts until it ends)
    gql_support_errors_total{code,where}      errors sent to clients: ``graphql`` (in ``errors``)
                                              or ``payload`` (a mutation's UserError)
    gql_support_outbox_due                    PENDING email rows due now (read at each scrape)
    gql_support_outbox_oldest_due_age_seconds how long the oldest of them has been due
    gql_support_outbox_sent_total             email sent by this process's sender
    gql_support_outbox_failures_total{outcome} failed sends: ``retry`` later, or ``failed`` for good
    gql_support_websockets_open               WebSocket connections open on this process
    gql_support_subscriptions_active          operations streaming on them (subscriptions; a
                                              query sent over a WebSocket, while it runs)
    gql_support_bus_connected                 1 while the live-update bus listens, else 0
    gql_support_bus_reconnects_total          times the bus lost its connection and got it back
    gql_support_bus_replayed_changes_total    changes re-read from the database after a reconnect
    gql_support_rate_limited_total{kind}      refusals for going too fast: ``login`` or ``write``
    gql_support_database_up                   1 if the last probe (``/metrics``, ``/readyz``)
                                              reached the database, else 0

Counters and gauges are per process; only the outbox figures, read from the database, are the
whole deployment's. Operation names come from clients: past ``MAX_OPERATION_NAMES`` distinct
ones (or for a name that is not a plain GraphQL name) the label is ``(other)``, so no client
can grow the series without bound.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# A ``_created`` series beside every counter doubles the exposition for nothing we read.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Distinct operation names kept as labels, process-wide.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_names: set[str] = set()

GRAPHQL_REQUESTS = Counter(
    "gql_support_graphql_requests",
    "GraphQL operations run, by operation name and type",
    ["operation", "type"],
)
GRAPHQL_DURATION = Histogram(
    "gql_support_graphql_request_duration_seconds",
    "Time to run a GraphQL operation (a subscription: until it ends)",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "gql_support_errors",
    "Errors sent to clients, by code: in the response's errors, or in a mutation's payload",
    ["code", "where"],
)
OUTBOX_DUE = Gauge("gql_support_outbox_due", "PENDING email rows due now")
OUTBOX_OLDEST_DUE_AGE = Gauge(
    "gql_support_outbox_oldest_due_age_seconds",
    "Seconds since the oldest due email row fell due (0 when none is due)",
)
OUTBOX_SENT = Counter("gql_support_outbox_sent", "Email sent by this process")
OUTBOX_FAILURES = Counter(
    "gql_support_outbox_failures",
    "Failed sends: retry (tried again later) or failed (given up)",
    ["outcome"],
)
WEBSOCKETS_OPEN = Gauge("gql_support_websockets_open", "WebSocket connections open")
SUBSCRIPTIONS_ACTIVE = Gauge("gql_support_subscriptions_active", "GraphQL subscriptions running")
BUS_CONNECTED = Gauge(
    "gql_support_bus_connected", "1 while the live-update bus is connected (always, in-process)"
)
BUS_RECONNECTS = Counter(
    "gql_support_bus_reconnects", "Times the live-update bus got its lost connection back"
)
BUS_REPLAYED = Counter(
    "gql_support_bus_replayed_changes", "Changes re-read from the database after a reconnect"
)
RATE_LIMITED = Counter(
    "gql_support_rate_limited", "Refusals for going too fast, by kind (login, write)", ["kind"]
)
DATABASE_UP = Gauge("gql_support_database_up", "1 if the last probe reached the database, else 0")


def operation_label(name: str | None) -> str:
    """The label for a client's operation name: bounded in length and in number."""
    if not name:
        return "(anonymous)"
    if name in _names:
        return name
    if _NAME.fullmatch(name) and len(_names) < MAX_OPERATION_NAMES:
        _names.add(name)
        return name
    return "(other)"


def set_outbox_backlog(due: int, oldest: datetime | None, *, now: datetime | None = None) -> None:
    """Records the outbox's due rows and how long the oldest has waited."""
    OUTBOX_DUE.set(due)
    age = 0.0 if oldest is None else ((now or datetime.now(UTC)) - oldest).total_seconds()
    OUTBOX_OLDEST_DUE_AGE.set(max(age, 0.0))


def exposition() -> tuple[bytes, str]:
    """Every metric of this process in the Prometheus text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
