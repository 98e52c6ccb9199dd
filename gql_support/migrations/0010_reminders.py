"""Due-date reminders and digests: the marks that say they were sent, and outbox rows in the
recipient's time zone."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from gql_support.notify.models import NoticeReason
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0009_search_vector")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DigestSent",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="digests_sent",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("day", fields.DateField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "digest_sent",
                "app": "models",
                "unique_together": (("user", "day"),),
                "pk_attr": "id",
                "table_description": "A manager's daily digest, written for the day (in the manager's time zone) it covers: at",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Incident",
            name="due_soon_sent_for",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Incident",
            name="overdue_sent_for",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name="OutboxMessage",
            name="reason",
            field=fields.CharEnumField(
                description="RECEIPT: RECEIPT\nREPORTED: REPORTED\nASSIGNED: ASSIGNED\nUPDATED: UPDATED\nPASSWORD_RESET: PASSWORD_RESET\nDUE_SOON: DUE_SOON\nOVERDUE: OVERDUE\nDIGEST: DIGEST",
                enum_type=NoticeReason,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="OutboxMessage",
            name="time_zone",
            field=fields.CharField(default="UTC", db_default="UTC", max_length=64),
        ),
    ]
