from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_support.live.models import UpdateKind
from json import dumps, loads
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0002_counter_and_search")]

    initial = False

    operations = [
        ops.CreateModel(
            name="IncidentChange",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("incident_id", fields.IntField(db_index=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="CREATED: CREATED\nUPDATED: UPDATED\nCOMMENTED: COMMENTED",
                        enum_type=UpdateKind,
                        max_length=16,
                    ),
                ),
                (
                    "event_ids",
                    fields.JSONField(
                        default=list,
                        description="Ids of the history entries the change added.",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "before",
                    fields.JSONField(
                        null=True,
                        description="What the dashboard filters look at, as it was before the change (null for a report).",
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "created_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True),
                ),
            ],
            options={"table": "incident_change", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
