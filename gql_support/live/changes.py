"""Recording committed changes for live subscribers, and announcing them after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gql_support.live import bus
from gql_support.live.models import IncidentChange, UpdateKind


async def record(
    *,
    incident_id: int,
    kind: UpdateKind,
    event_ids: Sequence[int],
    before: dict[str, Any] | None,
) -> IncidentChange:
    """Writes the change log row; call inside the change's transaction."""
    change = await IncidentChange.create(
        incident_id=incident_id, kind=kind, event_ids=list(event_ids), before=before
    )
    await bus.current().in_transaction(change.id)
    return change


async def announce(change: IncidentChange) -> None:
    """Tells every server process about a change; call once it is committed."""
    await bus.current().after_commit(change.id)
