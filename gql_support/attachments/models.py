"""The Tortoise model of an attached file: its metadata, the bytes live in the storage."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from gql_support.accounts.models import User
from gql_support.incidents.models import Comment, Incident


class Attachment(Model):
    """A file uploaded onto an incident, or onto one of its comments."""

    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="attachments", on_delete=fields.CASCADE, db_index=True
    )
    comment: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "models.Comment",
        related_name="attachments",
        null=True,
        on_delete=fields.CASCADE,
        db_index=True,
    )
    #: The uploader's file name, cleaned of folders and control characters.
    filename = fields.CharField(max_length=255)
    #: Determined by the server from the bytes, never taken from the client alone.
    content_type = fields.CharField(max_length=127)
    size = fields.BigIntField()
    #: Hex SHA-256 of the bytes, also their key in the storage.
    sha256 = fields.CharField(max_length=64, db_index=True)
    uploaded_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="attachments", on_delete=fields.RESTRICT
    )
    uploaded_at = fields.DatetimeField(auto_now_add=True)

    incident_id: int
    comment_id: int | None
    uploaded_by_id: int

    class Meta:
        table = "attachment"
