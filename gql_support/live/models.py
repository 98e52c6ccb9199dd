"""The change log: one row per committed change to an incident, written in its transaction.

Live subscribers are told only the row's id; they read the row, so a notification channel
never carries more than ids, and a listener that lost its connection can catch up from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class UpdateKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    COMMENTED = "COMMENTED"


class IncidentChange(Model):
    id = fields.BigIntField(primary_key=True)
    incident_id = fields.IntField(db_index=True)
    kind = fields.CharEnumField(UpdateKind, max_length=16)
    #: Ids of the history entries the change added.
    event_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    #: What the dashboard filters look at, as it was before the change (null for a report).
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "incident_change"
