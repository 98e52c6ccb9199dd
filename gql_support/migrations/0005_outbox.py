"""The outbox table: one row per email, written with the change it tells about."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_support.notify.models import NoticeReason, OutboxStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("models", "0004_attachments")]

    initial = False

    operations = [
        ops.CreateModel(
            name="OutboxMessage",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "incident",
                    fields.ForeignKeyField(
                        "models.Incident",
                        source_field="incident_id",
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="outbox_messages",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "recipient",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="recipient_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="outbox_messages",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "reason",
                    fields.CharEnumField(
                        description="RECEIPT: RECEIPT\nREPORTED: REPORTED\nASSIGNED: ASSIGNED\nUPDATED: UPDATED",
                        enum_type=NoticeReason,
                        max_length=16,
                    ),
                ),
                (
                    "to_address",
                    fields.CharField(
                        description="Address, name and locale as they were when the change was committed.",
                        max_length=254,
                    ),
                ),
                ("to_name", fields.CharField(max_length=200)),
                ("locale", fields.CharField(max_length=35)),
                (
                    "payload",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=OutboxStatus.PENDING,
                        description="PENDING: PENDING\nSENT: SENT\nFAILED: FAILED",
                        enum_type=OutboxStatus,
                        max_length=8,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "lease_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("claimed_by", fields.CharField(null=True, max_length=64)),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "outbox_message",
                "app": "models",
                "indexes": [Index(fields=["status", "next_attempt_at"])],
                "pk_attr": "id",
                "table_description": "One email to one recipient about one committed change.",
            },
            bases=["Model"],
        ),
    ]
