from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from gql_support.accounts.models import Role
from gql_support.incidents.models import (
    Impact,
    IncidentEventKind,
    IncidentStatus,
    IncidentType,
    Priority,
    Urgency,
)


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="IncidentCounter",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("value", fields.IntField(default=0)),
            ],
            options={
                "table": "incident_counter",
                "app": "models",
                "pk_attr": "id",
                "table_description": "The last Request ID handed out: its row lock makes numbering gapless.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=200)),
                (
                    "email",
                    fields.CharField(
                        unique=True,
                        description="Stored lower-cased, so uniqueness is case-insensitive on every database.",
                        max_length=254,
                    ),
                ),
                (
                    "role",
                    fields.CharEnumField(
                        default=Role.USER,
                        description="USER: USER\nAGENT: AGENT\nMANAGER: MANAGER\nADMIN: ADMIN",
                        enum_type=Role,
                        max_length=16,
                    ),
                ),
                ("locale", fields.CharField(default="en", max_length=35)),
                ("is_active", fields.BooleanField(default=True)),
                ("password_hash", fields.CharField(null=True, max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "user", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiToken",
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
                        related_name="tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_token",
                "app": "models",
                "pk_attr": "id",
                "table_description": "An opaque bearer token, of which only the SHA-256 is stored.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Incident",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "number",
                    fields.IntField(
                        unique=True,
                        description="The Request ID people see (#42): gapless, from ``IncidentCounter``.",
                    ),
                ),
                ("description", fields.TextField(unique=False)),
                (
                    "type",
                    fields.CharEnumField(
                        description="DEFECT: DEFECT\nCHANGE_REQUEST: CHANGE_REQUEST\nCLARIFICATION: CLARIFICATION",
                        enum_type=IncidentType,
                        max_length=16,
                    ),
                ),
                (
                    "impact",
                    fields.CharEnumField(
                        description="HIGH: HIGH\nMEDIUM: MEDIUM\nLOW: LOW",
                        enum_type=Impact,
                        max_length=8,
                    ),
                ),
                (
                    "urgency",
                    fields.CharEnumField(
                        description="HIGH: HIGH\nMEDIUM: MEDIUM\nLOW: LOW",
                        enum_type=Urgency,
                        max_length=8,
                    ),
                ),
                (
                    "priority",
                    fields.CharEnumField(
                        description="URGENT: URGENT\nHIGH: HIGH\nNORMAL: NORMAL\nLOW: LOW",
                        enum_type=Priority,
                        max_length=8,
                    ),
                ),
                ("priority_rank", fields.SmallIntField()),
                (
                    "status",
                    fields.CharEnumField(
                        default=IncidentStatus.NEW,
                        description="NEW: NEW\nIN_PROGRESS: IN_PROGRESS\nRETESTING: RETESTING\nRESOLVED: RESOLVED\nCLOSED: CLOSED\nREJECTED: REJECTED\nON_HOLD: ON_HOLD",
                        enum_type=IncidentStatus,
                        max_length=16,
                    ),
                ),
                ("status_rank", fields.SmallIntField()),
                ("due_date", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("task", fields.CharField(null=True, max_length=500)),
                (
                    "reporter",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="reporter_id",
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="reported_incidents",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "assigned_to",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="assigned_to_id",
                        null=True,
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="assigned_incidents",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("version", fields.IntField(default=1)),
                (
                    "search_document",
                    fields.TextField(
                        default="",
                        description="Description, comments and reference labels, for search (full-text indexed on PostgreSQL).",
                        unique=False,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "incident",
                "app": "models",
                "indexes": [
                    Index(fields=["status_rank", "id"]),
                    Index(fields=["priority_rank", "id"]),
                    Index(fields=["type", "id"]),
                    Index(fields=["due_date", "id"]),
                    Index(fields=["created_at", "id"]),
                    Index(fields=["updated_at", "id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Comment",
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
                        related_name="comments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "author",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="author_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="comments",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("body", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "comment", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="IncidentEvent",
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
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="REPORTED: REPORTED\nASSIGNED: ASSIGNED\nSUPPORTERS_CHANGED: SUPPORTERS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPRIORITY_CHANGED: PRIORITY_CHANGED\nDUE_DATE_CHANGED: DUE_DATE_CHANGED\nCOMMENTED: COMMENTED\nREFERENCE_ADDED: REFERENCE_ADDED\nWATCHERS_CHANGED: WATCHERS_CHANGED\nUPDATED: UPDATED",
                        enum_type=IncidentEventKind,
                        max_length=24,
                    ),
                ),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("field", fields.CharField(null=True, max_length=40)),
                ("from_value", fields.TextField(null=True, unique=False)),
                ("to_value", fields.TextField(null=True, unique=False)),
            ],
            options={
                "table": "incident_event",
                "app": "models",
                "pk_attr": "id",
                "table_description": "One entry of an incident's audit history: who changed which field, from what, to what.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="IncidentSupporter",
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
                        db_constraint=True,
                        to_field="id",
                        related_name="supporter_links",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="supporting_links",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "incident_supporter",
                "app": "models",
                "unique_together": (("incident", "user"),),
                "pk_attr": "id",
                "table_description": "One of the Supported By helpers of an incident.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="IncidentWatcher",
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
                        db_constraint=True,
                        to_field="id",
                        related_name="watcher_links",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_index=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="watching_links",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "incident_watcher",
                "app": "models",
                "unique_together": (("incident", "user"),),
                "pk_attr": "id",
                "table_description": "A user on an incident's watchlist.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Reference",
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
                        related_name="references",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("label", fields.CharField(max_length=500)),
                ("url", fields.CharField(null=True, max_length=2048)),
                (
                    "added_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="added_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="references",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("added_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "reference", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
