"""Input types of the contract, and their translation into the domain's terms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from gql_support.accounts.models import Role
from gql_support.api.ids import decode_id
from gql_support.errors import InvalidInput
from gql_support.incidents import filters, queries
from gql_support.incidents.changes import NewReference, check_instant
from gql_support.incidents.fields import RULES, FieldRule, Value
from gql_support.incidents.models import Impact, IncidentStatus, IncidentType, Priority, Urgency
from gql_support.text import check_characters


def _given(input: object) -> Iterator[tuple[FieldRule, Any]]:
    """The editable fields the input carries and the client did not leave out."""
    for rule in RULES:
        value = getattr(input, rule.attribute, strawberry.UNSET)
        if value is not strawberry.UNSET:
            yield rule, value


def _decoded(rule: FieldRule, value: Any) -> Any:
    """A given, non-null value in the domain's terms: global user IDs become user ids."""
    if rule.value is Value.USER:
        return decode_id(value, "User", field=["input", rule.input])
    if rule.value is Value.USERS:
        return [decode_id(item, "User", field=["input", rule.input]) for item in value]
    return value


def edit_values(input: object) -> dict[str, Any]:
    """The fields an edit sets, as ``IncidentChanges`` arguments: a field left out is left as
    it is, and so is a null list; null clears a field that may be empty and is refused for
    the others (status, type, impact, urgency)."""
    values: dict[str, Any] = {}
    for rule, value in _given(input):
        if value is None and rule.value is Value.USERS:
            continue
        if value is None and not rule.nullable:
            raise InvalidInput(f"{rule.input} cannot be null", field=["input", rule.input])
        values[rule.attribute] = None if value is None else _decoded(rule, value)
    return values


def report_values(input: object) -> dict[str, Any]:
    """The fields a report sets, as ``IncidentChanges`` arguments: nothing exists yet, so null
    is the default, like a field left out."""
    return {rule.attribute: _decoded(rule, v) for rule, v in _given(input) if v is not None}


@strawberry.input
class ReferenceInput:
    label: str
    url: str | None = None

    def to_domain(self) -> NewReference:
        return NewReference(label=self.label, url=self.url)


def references(items: list[ReferenceInput] | None) -> list[NewReference]:
    return [] if not items else [item.to_domain() for item in items]


@strawberry.input
class LoginInput:
    email: str
    password: str


_TIME_ZONE = 'IANA time zone name, e.g. "Europe/Paris".'


@strawberry.input(description="An admin changes a user's account; null leaves a field as it is.")
class UpdateUserInput:
    user_id: strawberry.ID
    role: Role | None = None
    is_active: bool | None = strawberry.field(
        default=None,
        description="false signs the user out everywhere (tokens revoked, connections closed).",
    )
    name: str | None = None
    email: str | None = strawberry.field(
        default=None, description="A new address voids the reset links sent to the old one."
    )
    locale: str | None = None
    time_zone: str | None = strawberry.field(default=None, description=_TIME_ZONE)


@strawberry.input(description="An admin creates a user.")
class CreateUserInput:
    email: str
    name: str
    role: Role = Role.USER
    locale: str = "en"
    time_zone: str | None = strawberry.field(
        default=None, description=_TIME_ZONE + " Null: the desk's default."
    )
    password: str | None = strawberry.field(
        default=None,
        description="Null: the user sets one through requestPasswordReset. At least 12 "
        "characters, and not a common password.",
    )


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str = strawberry.field(
        description="At least 12 characters, and not a common password."
    )


@strawberry.input(description="The viewer changes their own profile; null leaves a field as it is.")
class UpdateProfileInput:
    name: str | None = None
    locale: str | None = None
    time_zone: str | None = strawberry.field(default=None, description=_TIME_ZONE)
    new_password: str | None = strawberry.field(
        default=None, description="Needs currentPassword; revokes every other token."
    )
    current_password: str | None = None


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="The token of the emailed link.")
    new_password: str


@strawberry.input
class ReportIncidentInput:
    description: str
    type: IncidentType | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    due_date: datetime | None = strawberry.UNSET
    task: str | None = strawberry.UNSET
    assigned_to_id: strawberry.ID | None = strawberry.UNSET
    supported_by_ids: list[strawberry.ID] | None = strawberry.UNSET
    watcher_ids: list[strawberry.ID] | None = strawberry.UNSET
    references: list[ReferenceInput] | None = None
    comment: str | None = None
    attachments: list[Upload] | None = None
    client_mutation_id: str | None = None


@strawberry.input
class AssignIncidentInput:
    incident_id: strawberry.ID
    assigned_to_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null leaves the incident unassigned."
    )
    supported_by_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="The full new list; omitted leaves it as it is."
    )
    expected_version: int | None = None
    client_mutation_id: str | None = None


@strawberry.input
class UpdateStatusInput:
    incident_id: strawberry.ID
    status: IncidentStatus
    comment: str | None = strawberry.field(
        default=None, description="Why: stored as a comment on the incident."
    )
    expected_version: int | None = None
    client_mutation_id: str | None = None


@strawberry.input
class AddCommentInput:
    incident_id: strawberry.ID
    body: str
    references: list[ReferenceInput] | None = None
    attachments: list[Upload] | None = None
    client_mutation_id: str | None = None


@strawberry.input(
    description="The Save/Send button: every change of the incident window, applied at once, "
    "with one notification."
)
class SaveIncidentInput:
    incident_id: strawberry.ID
    expected_version: int | None = None
    assigned_to_id: strawberry.ID | None = strawberry.UNSET
    supported_by_ids: list[strawberry.ID] | None = strawberry.UNSET
    watcher_ids: list[strawberry.ID] | None = strawberry.UNSET
    status: IncidentStatus | None = strawberry.UNSET
    type: IncidentType | None = strawberry.UNSET
    impact: Impact | None = strawberry.UNSET
    urgency: Urgency | None = strawberry.UNSET
    due_date: datetime | None = strawberry.UNSET
    task: str | None = strawberry.UNSET
    comment: str | None = None
    references: list[ReferenceInput] | None = None
    attachments: list[Upload] | None = None
    client_mutation_id: str | None = None


@strawberry.input
class WatchIncidentInput:
    incident_id: strawberry.ID
    watching: bool
    client_mutation_id: str | None = None


@strawberry.input
class IncidentFilter:
    status: list[IncidentStatus] | None = None
    priority: list[Priority] | None = None
    type: list[IncidentType] | None = None
    assigned_to_id: strawberry.ID | None = None
    involving_user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description='"My incidents": raised by, assigned to, or supported by this user.',
    )
    watched_by_user_id: strawberry.ID | None = None
    overdue: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Words to find in the description, comments and references."
    )

    def to_domain(self) -> filters.IncidentFilter:
        def user(value: strawberry.ID | None, field: str) -> int | None:
            return None if value is None else decode_id(value, "User", field=["filter", field])

        def instant(value: datetime | None, field: str) -> datetime | None:
            return None if value is None else check_instant(value, field=["filter", field])

        def text(value: str | None, field: str) -> str | None:
            return None if value is None else check_characters(value, field=["filter", field])

        return filters.IncidentFilter(
            status=self.status,
            priority=self.priority,
            type=self.type,
            assigned_to_id=user(self.assigned_to_id, "assignedToId"),
            involving_user_id=user(self.involving_user_id, "involvingUserId"),
            watched_by_user_id=user(self.watched_by_user_id, "watchedByUserId"),
            overdue=self.overdue,
            due_before=instant(self.due_before, "dueBefore"),
            due_after=instant(self.due_after, "dueAfter"),
            search=text(self.search, "search"),
        )


strawberry.enum(queries.OrderField, name="IncidentOrderField")


@strawberry.enum
class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class IncidentOrder:
    field: queries.OrderField
    direction: OrderDirection

    def to_domain(self) -> queries.IncidentOrder:
        return queries.IncidentOrder(
            field=self.field, descending=self.direction == OrderDirection.DESC
        )
