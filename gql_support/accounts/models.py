"""Tortoise models of the people who use the desk, the tokens they sign in with, and the
counters that rate-limit them."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from gql_support.accounts.timezones import DEFAULT_TIME_ZONE, MAX_TIME_ZONE


class Role(StrEnum):
    USER = "USER"
    AGENT = "AGENT"
    MANAGER = "MANAGER"
    ADMIN = "ADMIN"


#: Roles that may be assigned an incident or support one.
SUPPORT_ROLES = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})
#: Roles of incident managers: assign, re-prioritise, any status move the workflow has.
MANAGER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


class User(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    #: Stored lower-cased, so uniqueness is case-insensitive on every database.
    email = fields.CharField(max_length=254, unique=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.USER)
    locale = fields.CharField(max_length=35, default="en")
    # IANA name, e.g. "Europe/Paris": how dates read in this user's email. (A plain comment,
    # as for ApiToken.expires_at; the database's own default lets the column be added to a
    # table with rows.)
    time_zone = fields.CharField(
        max_length=MAX_TIME_ZONE, default=DEFAULT_TIME_ZONE, db_default=DEFAULT_TIME_ZONE
    )
    is_active = fields.BooleanField(default=True)
    password_hash = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES

    def __str__(self) -> str:
        return self.name


class ApiToken(Model):
    """An opaque bearer token, of which only the SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    # Always set on issue; null only in the schema, so the column could be added to a table
    # with rows (the migration fills it). A null never passes ``expires_at > now``. (A plain
    # comment: Tortoise's SQLite ADD COLUMN breaks on a field description.)
    expires_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "api_token"


class Throttle(Model):
    """One rate-limit counter (a login account or address, a user's writes), shared by every
    process; used when no Redis is configured. Times are seconds since the epoch."""

    key = fields.CharField(max_length=64, primary_key=True)
    hits = fields.FloatField(default=0)
    blocked_until = fields.FloatField(default=0)
    updated_at = fields.FloatField(default=0, db_index=True)

    class Meta:
        table = "throttle"


class PasswordReset(Model):
    """A password reset asked for by email: one-time and short-lived. The token it was sent
    with is the row's salt signed with the server's secret key, and only the token's
    SHA-256 is stored, so neither this table nor the outbox holds a usable link."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="password_resets", on_delete=fields.CASCADE
    )
    salt = fields.CharField(max_length=32)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "password_reset"
