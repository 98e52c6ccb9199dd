"""Password resets by email: one row per link sent, of which only the token's hash is kept, and
outbox rows about no incident (the reset email)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from gql_support.notify.models import NoticeReason
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0007_user_time_zone")]

    initial = False

    operations = [
        ops.CreateModel(
            name="PasswordReset",
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
                        related_name="password_resets",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("salt", fields.CharField(max_length=32)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "password_reset",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A password reset asked for by email: one-time and short-lived. The token it was sent",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="OutboxMessage",
            name="incident",
            field=fields.ForeignKeyField(
                "models.Incident",
                source_field="incident_id",
                null=True,
                db_index=True,
                db_constraint=True,
                to_field="id",
                related_name="outbox_messages",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AlterField(
            model_name="OutboxMessage",
            name="reason",
            field=fields.CharEnumField(
                description="RECEIPT: RECEIPT\nREPORTED: REPORTED\nASSIGNED: ASSIGNED\nUPDATED: UPDATED\nPASSWORD_RESET: PASSWORD_RESET",
                enum_type=NoticeReason,
                max_length=16,
            ),
        ),
    ]
