"""Input types of the contract, and their translation into the domain's terms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

import strawberry
from strawberry.file_uploads import Upload

from gql_support.accounts.models import Role
from gql_support.api.ids import decode_id
from gql_support.incidents import filters, queries
from gql_support.incidents.changes import UNSET, NewReference, Unset, check_instant
from gql_support.incidents.models import Impact, IncidentStatus, IncidentType, Priority, Urgency
from gql_support.text import check_characters

T = TypeVar("T")
R = TypeVar("R")


def given(value: T | None, convert: Callable[[T], R]) -> R | Unset | None:
    """Strawberry's UNSET (left out) becomes the domain's UNSET; null stays None."""
    if value is strawberry.UNSET:
        return UNSET
    return None if value is None else convert(value)


def given_list(value: list[T] | None, convert: Callable[[T], R]) -> list[R] | Unset:
    """A list input left out (or null) leaves the list as it is."""
    if value is strawberry.UNSET or value is None:
        return UNSET
    return [convert(item) for item in value]


def user_pk(field: str) -> Callable[[strawberry.ID], int]:
    return lambda global_id: decode_id(global_id, "User", field=["input", field])


def identity(value: T) -> T:
    return value


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


@strawberry.input(description="An admin changes a user's role or active flag; null leaves it.")
class UpdateUserInput:
    user_id: strawberry.ID
    role: Role | None = None
    is_active: bool | None = strawberry.field(
        default=None,
        description="false signs the user out everywhere (tokens revoked, connections closed).",
    )


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
