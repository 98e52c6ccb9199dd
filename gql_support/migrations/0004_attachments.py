from tortoise import migrations
from tortoise.migrations import operations as ops
from gql_support.incidents.models import IncidentEventKind
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0003_incident_change")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Attachment",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "incident",
                    fields.ForeignKeyField(
                        "models.Incident",
                        source_field="incident_id",
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="attachments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "comment",
                    fields.ForeignKeyField(
                        "models.Comment",
                        source_field="comment_id",
                        null=True,
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="attachments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "filename",
                    fields.CharField(
                        description="The uploader's file name, cleaned of folders and control characters.",
                        max_length=255,
                    ),
                ),
                (
                    "content_type",
                    fields.CharField(
                        description="Determined by the server from the bytes, never taken from the client alone.",
                        max_length=127,
                    ),
                ),
                ("size", fields.BigIntField()),
                (
                    "sha256",
                    fields.CharField(
                        db_index=True,
                        description="Hex SHA-256 of the bytes, also their key in the storage.",
                        max_length=64,
                    ),
                ),
                (
                    "uploaded_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="uploaded_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="attachments",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("uploaded_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "attachment",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A file uploaded onto an incident, or onto one of its comments.",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="IncidentEvent",
            name="kind",
            field=fields.CharEnumField(
                description="REPORTED: REPORTED\nASSIGNED: ASSIGNED\nSUPPORTERS_CHANGED: SUPPORTERS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPRIORITY_CHANGED: PRIORITY_CHANGED\nDUE_DATE_CHANGED: DUE_DATE_CHANGED\nCOMMENTED: COMMENTED\nREFERENCE_ADDED: REFERENCE_ADDED\nATTACHMENT_ADDED: ATTACHMENT_ADDED\nWATCHERS_CHANGED: WATCHERS_CHANGED\nUPDATED: UPDATED",
                enum_type=IncidentEventKind,
                max_length=24,
            ),
        ),
    ]
