"""Tortoise models of incidents and everything hanging off them."""

from __future__ import annotations

from datetime import UTC
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from gql_support.accounts.models import User


class IncidentStatus(StrEnum):
    NEW = "NEW"
    IN_PROGRESS = "IN_PROGRESS"
    RETESTING = "RETESTING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    REJECTED = "REJECTED"
    ON_HOLD = "ON_HOLD"


#: Statuses in which an incident still needs work (and so can be overdue).
OPEN_STATUSES = frozenset(
    {
        IncidentStatus.NEW,
        IncidentStatus.IN_PROGRESS,
        IncidentStatus.RETESTING,
        IncidentStatus.ON_HOLD,
    }
)


class Priority(StrEnum):
    URGENT = "URGENT"
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"


class Impact(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Urgency(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class IncidentType(StrEnum):
    DEFECT = "DEFECT"
    CHANGE_REQUEST = "CHANGE_REQUEST"
    CLARIFICATION = "CLARIFICATION"


class IncidentEventKind(StrEnum):
    REPORTED = "REPORTED"
    ASSIGNED = "ASSIGNED"
    SUPPORTERS_CHANGED = "SUPPORTERS_CHANGED"
    STATUS_CHANGED = "STATUS_CHANGED"
    PRIORITY_CHANGED = "PRIORITY_CHANGED"
    DUE_DATE_CHANGED = "DUE_DATE_CHANGED"
    COMMENTED = "COMMENTED"
    REFERENCE_ADDED = "REFERENCE_ADDED"
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED"
    WATCHERS_CHANGED = "WATCHERS_CHANGED"
    UPDATED = "UPDATED"


#: Sort keys, so ordering by priority or status follows their meaning, not the alphabet.
#: They are stored (``priority_rank``, ``status_rank``) and the status and priority filters
#: compare them, so they are written out rather than taken from the enums' order: a member
#: inserted in an enum must not renumber the rows already stored. A new member takes a new
#: rank (tests/incidents/test_ranks.py pins them); changing one needs a migration that
#: rewrites the stored column.
PRIORITY_RANK: dict[Priority, int] = {
    Priority.URGENT: 0,
    Priority.HIGH: 1,
    Priority.NORMAL: 2,
    Priority.LOW: 3,
}
STATUS_RANK: dict[IncidentStatus, int] = {
    IncidentStatus.NEW: 0,
    IncidentStatus.IN_PROGRESS: 1,
    IncidentStatus.RETESTING: 2,
    IncidentStatus.RESOLVED: 3,
    IncidentStatus.CLOSED: 4,
    IncidentStatus.REJECTED: 5,
    IncidentStatus.ON_HOLD: 6,
}


class Incident(Model):
    id = fields.IntField(primary_key=True)
    #: The Request ID people see (#42): gapless, from ``IncidentCounter``.
    number = fields.IntField(unique=True)
    description = fields.TextField()
    type = fields.CharEnumField(IncidentType, max_length=16)
    impact = fields.CharEnumField(Impact, max_length=8)
    urgency = fields.CharEnumField(Urgency, max_length=8)
    priority = fields.CharEnumField(Priority, max_length=8)
    priority_rank = fields.SmallIntField()
    status = fields.CharEnumField(IncidentStatus, max_length=16, default=IncidentStatus.NEW)
    status_rank = fields.SmallIntField()
    due_date = fields.DatetimeField(null=True)
    # The due date for which the "due soon" and "overdue" reminders were sent (see
    # ``reminders``): a new due date differs from them, and so arms them again. (Plain
    # comments, as for ApiToken.expires_at.)
    due_soon_sent_for = fields.DatetimeField(null=True)
    overdue_sent_for = fields.DatetimeField(null=True)
    task = fields.CharField(max_length=500, null=True)
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reported_incidents", on_delete=fields.RESTRICT, db_index=True
    )
    assigned_to: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="assigned_incidents",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    version = fields.IntField(default=1)
    #: Description, comments and reference labels, for search (full-text indexed on PostgreSQL).
    search_document = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    reporter_id: int
    assigned_to_id: int | None

    class Meta:
        table = "incident"
        indexes = (
            Index(fields=("status_rank", "id")),
            Index(fields=("priority_rank", "id")),
            Index(fields=("type", "id")),
            Index(fields=("due_date", "id")),
            Index(fields=("created_at", "id")),
            Index(fields=("updated_at", "id")),
        )

    async def save(self, *args: Any, **kwargs: Any) -> None:
        # The ranks are derived: keep them in step with what they rank on every write.
        self.priority_rank = PRIORITY_RANK[Priority(self.priority)]
        self.status_rank = STATUS_RANK[IncidentStatus(self.status)]
        # SQLite compares dates as text: written in UTC, due dates compare as the instants they are.
        if self.due_date is not None:
            self.due_date = self.due_date.astimezone(UTC)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = [*update_fields, "priority_rank", "status_rank"]
        await super().save(*args, **kwargs)


class IncidentCounter(Model):
    """The last Request ID handed out: its row lock makes numbering gapless."""

    id = fields.IntField(primary_key=True)
    value = fields.IntField(default=0)

    class Meta:
        table = "incident_counter"


class IncidentSupporter(Model):
    """One of the Supported By helpers of an incident."""

    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="supporter_links", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supporting_links", on_delete=fields.RESTRICT, db_index=True
    )

    incident_id: int
    user_id: int

    class Meta:
        table = "incident_supporter"
        unique_together = (("incident", "user"),)


class IncidentWatcher(Model):
    """A user on an incident's watchlist."""

    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="watcher_links", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="watching_links", on_delete=fields.RESTRICT, db_index=True
    )

    incident_id: int
    user_id: int

    class Meta:
        table = "incident_watcher"
        unique_together = (("incident", "user"),)


class Comment(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="comments", on_delete=fields.CASCADE, db_index=True
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="comments", on_delete=fields.RESTRICT
    )
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    incident_id: int
    author_id: int

    class Meta:
        table = "comment"


class Reference(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="references", on_delete=fields.CASCADE, db_index=True
    )
    label = fields.CharField(max_length=500)
    url = fields.CharField(max_length=2048, null=True)
    added_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="references", on_delete=fields.RESTRICT
    )
    added_at = fields.DatetimeField(auto_now_add=True)

    incident_id: int
    added_by_id: int

    class Meta:
        table = "reference"


class IncidentEvent(Model):
    """One entry of an incident's audit history: who changed which field, from what, to what."""

    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="events", on_delete=fields.CASCADE, db_index=True
    )
    kind = fields.CharEnumField(IncidentEventKind, max_length=24)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    at = fields.DatetimeField()
    field = fields.CharField(max_length=40, null=True)
    from_value = fields.TextField(null=True)
    to_value = fields.TextField(null=True)

    incident_id: int
    actor_id: int | None

    class Meta:
        table = "incident_event"


class DigestSent(Model):
    """A manager's daily digest, written for the day (in the manager's time zone) it covers: at
    most one per manager and day, whichever worker gets there first."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="digests_sent", on_delete=fields.CASCADE
    )
    day = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int

    class Meta:
        table = "digest_sent"
        unique_together = (("user", "day"),)
