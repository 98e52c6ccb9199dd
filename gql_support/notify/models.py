"""The outbox: one row per email to send, written in the same transaction as the change."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from gql_support.accounts.models import User

if TYPE_CHECKING:  # the outbox names incidents by foreign key only: notify never imports them
    from gql_support.incidents.models import Incident


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class NoticeReason(StrEnum):
    """Why this recipient gets this email, which picks its subject and opening line."""

    RECEIPT = "RECEIPT"  # the reporter, for their own report
    REPORTED = "REPORTED"  # a new incident concerns you
    ASSIGNED = "ASSIGNED"  # you were made Assigned To, or added to Supported By
    UPDATED = "UPDATED"  # something changed on an incident that concerns you
    PASSWORD_RESET = "PASSWORD_RESET"  # you asked for a link to set a new password
    DUE_SOON = "DUE_SOON"  # an incident you work on is due within the lead time
    OVERDUE = "OVERDUE"  # an incident you work on or manage is past its due date
    DIGEST = "DIGEST"  # a manager's daily list of overdue and unassigned incidents


class OutboxMessage(Model):
    """One email to one recipient about one committed change.

    The payload is what the change said (fields old and new, comment, references, attachments),
    rendered in the recipient's locale when it is sent. A worker claims a row by setting
    ``lease_until``: once that time passes the row is free again, so a crashed worker loses
    nothing.
    """

    id = fields.BigIntField(primary_key=True)
    # The incident the email is about; none for a password reset or a digest. (A plain
    # comment: Tortoise's SQLite ALTER breaks on a field description.)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident",
        related_name="outbox_messages",
        on_delete=fields.CASCADE,
        db_index=True,
        null=True,
    )
    recipient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="outbox_messages", on_delete=fields.CASCADE
    )
    reason = fields.CharEnumField(NoticeReason, max_length=16)
    #: Address, name and locale as they were when the change was committed.
    to_address = fields.CharField(max_length=254)
    to_name = fields.CharField(max_length=200)
    locale = fields.CharField(max_length=35)
    # And the time zone (an IANA name), in which the email shows dates and times.
    time_zone = fields.CharField(max_length=64, default="UTC", db_default="UTC")
    payload: dict[str, object] = fields.JSONField()
    status = fields.CharEnumField(OutboxStatus, max_length=8, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=64, null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    incident_id: int | None
    recipient_id: int

    class Meta:
        table = "outbox_message"
        indexes = (Index(fields=("status", "next_attempt_at")),)
