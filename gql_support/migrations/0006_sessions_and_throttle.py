"""Tokens expire (those issued before get 30 days from now), and rate-limit counters."""

from datetime import UTC, datetime, timedelta

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


async def _expire_existing_tokens(apps, schema_editor):
    # Tokens issued before expiry existed get the default lifetime from today, not from their
    # creation: nobody is signed out by the upgrade itself.
    token = apps.get_model("models.ApiToken")
    await token.filter(expires_at=None).update(expires_at=datetime.now(UTC) + timedelta(days=30))


class Migration(migrations.Migration):
    dependencies = [("models", "0005_outbox")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Throttle",
            fields=[
                (
                    "key",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("hits", fields.FloatField(default=0)),
                ("blocked_until", fields.FloatField(default=0)),
                ("updated_at", fields.FloatField(default=0, db_index=True)),
            ],
            options={
                "table": "throttle",
                "app": "models",
                "pk_attr": "key",
                "table_description": "One rate-limit counter (a login account or address, a user's writes), shared by every",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ApiToken",
            name="expires_at",
            field=fields.DatetimeField(
                null=True,
                auto_now=False,
                auto_now_add=False,
            ),
        ),
        ops.RunPython(_expire_existing_tokens, ops.RunPython.noop),
    ]
