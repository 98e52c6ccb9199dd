"""Strawberry object types: the contract's shapes, resolved from the domain models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.schema_directive import Location

from gql_support.accounts import models as accounts
from gql_support.accounts.models import Role
from gql_support.accounts.timezones import DEFAULT_TIME_ZONE
from gql_support.api.context import Info
from gql_support.api.dataloaders import PageKey, PageResult
from gql_support.api.ids import to_global_id
from gql_support.attachments import models as attachments
from gql_support.exports.view import ExportFormat
from gql_support.incidents import models as incidents
from gql_support.incidents import queries
from gql_support.incidents.models import (
    Impact,
    IncidentEventKind,
    IncidentStatus,
    IncidentType,
    Priority,
    Urgency,
)
from gql_support.incidents.workflow import allowed_targets, parties_of

# The domain's enums are the GraphQL enums, under the same names.
for _enum in (
    Role,
    IncidentStatus,
    Priority,
    Impact,
    Urgency,
    IncidentType,
    IncidentEventKind,
    ExportFormat,
):
    strawberry.enum(_enum)


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The field's value depends on who asks: a subscription that selects it is "
    "never shared between viewers.",
)
class ViewerDependent:
    """Marks a field computed from the viewer (a link signed for them, the moves they may
    make); the live fan-out reads it to decide who may share a result."""


@strawberry.interface(description="An object with an opaque global ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


@strawberry.type
class User(Node):
    name: str
    email: str
    role: Role
    locale: str = strawberry.field(
        description='BCP 47 language tag used for this user\'s emails, e.g. "fr" or "en".'
    )
    is_active: bool = strawberry.field(
        default=True, description="Whether the user may sign in and be assigned work."
    )
    time_zone: str = strawberry.field(
        default=DEFAULT_TIME_ZONE,
        description='IANA time zone in which this user\'s emails give dates, e.g. "Europe/Paris".',
    )

    @classmethod
    def from_model(cls, user: accounts.User) -> User:
        return cls(
            id=to_global_id("User", user.id),
            name=user.name,
            email=user.email,
            role=user.role,
            locale=user.locale,
            is_active=user.is_active,
            time_zone=user.time_zone,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        """From the plain values of ``queries.USER_COLUMNS``."""
        return cls(
            id=to_global_id("User", row["id"]),
            name=row["name"],
            email=row["email"],
            role=Role(row["role"]),
            locale=row["locale"],
            is_active=row["is_active"],
            time_zone=row["time_zone"],
        )


T = TypeVar("T")


def now_or_later(value: T | None, later: Callable[[], Awaitable[T]]) -> T:
    """``value`` when it is already known, else the awaitable that reads it. graphql-core
    awaits whatever a resolver returns, so a field whose value a page loaded up front resolves
    at once, without a task of its own (a task per field was most of a dashboard page's CPU)."""
    if value is not None:
        return value
    return cast(T, later())


@dataclass(frozen=True)
class PageValues:
    """What the dashboard's ``incidents`` resolver read up front for a whole page, as plain
    values, for the fields its query selects (absent: read through the loaders)."""

    users: Mapping[int, User] = field(default_factory=dict)
    supporters: Mapping[int, list[User]] | None = None
    supporter_ids: Mapping[int, frozenset[int]] | None = None
    comment_counts: Mapping[int, int] | None = None


async def _user(info: Info, user_id: int) -> User:
    user = await info.context.loaders.user_by_id.load(user_id)
    assert user is not None, "foreign keys keep users in place"
    return User.from_model(user)


@strawberry.type
class Reference(Node):
    label: str = strawberry.field(
        description="What the reference points at: a document, a process step, "
        "a ticket in another system."
    )
    url: str | None
    added_at: datetime
    added_by_id: strawberry.Private[int]

    @strawberry.field
    async def added_by(self, info: Info) -> User:
        return await _user(info, self.added_by_id)

    @classmethod
    def from_model(cls, reference: incidents.Reference) -> Reference:
        return cls(
            id=to_global_id("Reference", reference.id),
            label=reference.label,
            url=reference.url,
            added_at=reference.added_at,
            added_by_id=reference.added_by_id,
        )


@strawberry.type
class Attachment(Node):
    filename: str
    content_type: str
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str
    uploaded_at: datetime
    model: strawberry.Private[attachments.Attachment]

    @strawberry.field(
        description="Where an authorised client downloads the file: a short-lived link signed "
        "for the viewer, which works without the Authorization header (in an <a href>).",
        directives=[ViewerDependent()],
    )
    def url(self, info: Info) -> str:
        viewer = info.context.viewer
        assert viewer is not None, "attachments are read by signed-in users only"
        return info.context.attachments.download_url(
            self.model, user_id=viewer.id, base_url=info.context.base_url
        )

    @strawberry.field
    async def uploaded_by(self, info: Info) -> User:
        return await _user(info, self.model.uploaded_by_id)

    @classmethod
    def from_model(cls, attachment: attachments.Attachment) -> Attachment:
        return cls(
            id=to_global_id("Attachment", attachment.id),
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
            uploaded_at=attachment.uploaded_at,
            model=attachment,
        )


@strawberry.type
class Comment(Node):
    body: str
    created_at: datetime
    author_id: strawberry.Private[int]
    id_pk: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: Info) -> User:
        return await _user(info, self.author_id)

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        found = await info.context.loaders.attachments_by_comment_id.load(self.id_pk)
        return [Attachment.from_model(a) for a in found]

    @classmethod
    def from_model(cls, comment: incidents.Comment) -> Comment:
        return cls(
            id=to_global_id("Comment", comment.id),
            body=comment.body,
            created_at=comment.created_at,
            author_id=comment.author_id,
            id_pk=comment.id,
        )


@strawberry.type(description="One entry of an incident's audit history.")
class IncidentEvent(Node):
    kind: IncidentEventKind
    at: datetime
    field: str | None = strawberry.field(description="The field that changed, where one did.")
    from_: str | None = strawberry.field(name="from")
    to: str | None
    actor_id: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        return None if self.actor_id is None else await _user(info, self.actor_id)

    @classmethod
    def from_model(cls, event: incidents.IncidentEvent) -> IncidentEvent:
        return cls(
            id=to_global_id("IncidentEvent", event.id),
            kind=event.kind,
            at=event.at,
            field=event.field,
            from_=event.from_value,
            to=event.to_value,
            actor_id=event.actor_id,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], *, has_next: bool, has_previous: bool) -> PageInfo:
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


N = TypeVar("N")


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    """A page of a list. The page and the count are read only if the query asks for them, so
    ``comments { totalCount }`` loads no comment."""

    load: strawberry.Private[Callable[[], Awaitable[tuple[list[Edge[N]], PageInfo]]]]
    count: strawberry.Private[Callable[[], Awaitable[int]]]
    #: The page and the count when they are known already (see ``now_or_later``).
    page: strawberry.Private[tuple[list[Edge[N]], PageInfo] | None] = None
    known_count: strawberry.Private[int | None] = None

    async def _edges(self) -> list[Edge[N]]:
        return (await self.load())[0]

    async def _nodes(self) -> list[N]:
        return [edge.node for edge in (await self.load())[0]]

    async def _page_info(self) -> PageInfo:
        return (await self.load())[1]

    @strawberry.field
    def edges(self) -> list[Edge[N]]:
        return now_or_later(None if self.page is None else self.page[0], self._edges)

    @strawberry.field
    def nodes(self) -> list[N]:
        known = None if self.page is None else [edge.node for edge in self.page[0]]
        return now_or_later(known, self._nodes)

    @strawberry.field
    def page_info(self) -> PageInfo:
        return now_or_later(None if self.page is None else self.page[1], self._page_info)

    @strawberry.field
    def total_count(self) -> int:
        return now_or_later(self.known_count, self.count)


def _incident_rows(
    pages: DataLoader[PageKey, PageResult],
    counts: DataLoader[int, int],
    key: PageKey,
    convert: Callable[[Any], N],
) -> Connection[N]:
    """The connection over one incident's comments or history, read through the loaders."""

    async def load() -> tuple[list[Edge[N]], PageInfo]:
        rows, has_next = await pages.load(key)
        edges = [Edge(cursor=queries.row_cursor(r), node=convert(r)) for r in rows]
        cursors = [e.cursor for e in edges]
        return edges, PageInfo.of(cursors, has_next=has_next, has_previous=key[2] is not None)

    return Connection(load=load, count=lambda: counts.load(key[0]))


def _known(values: Mapping[int, T] | None, key: int, default: T) -> T | None:
    return None if values is None else values.get(key, default)


@strawberry.type
class Incident(Node):
    model: strawberry.Private[incidents.Incident]
    page: strawberry.Private[PageValues | None] = None

    @strawberry.field(
        description="Request ID: a running sequence number, shown to people as e.g. #42."
    )
    def number(self) -> int:
        return self.model.number

    @strawberry.field
    def description(self) -> str:
        return self.model.description

    @strawberry.field
    def type(self) -> IncidentType:
        return self.model.type

    @strawberry.field
    def impact(self) -> Impact:
        return self.model.impact

    @strawberry.field
    def urgency(self) -> Urgency:
        return self.model.urgency

    @strawberry.field
    def priority(self) -> Priority:
        return self.model.priority

    @strawberry.field
    def status(self) -> IncidentStatus:
        return self.model.status

    @strawberry.field
    def due_date(self) -> datetime | None:
        return self.model.due_date

    @strawberry.field(
        description="True when the due date has passed and the incident is still open."
    )
    def is_overdue(self) -> bool:
        due = self.model.due_date
        return (
            due is not None
            and due < datetime.now(UTC)
            and self.model.status in incidents.OPEN_STATUSES
        )

    @strawberry.field(description="The process task, step or scenario the incident was raised on.")
    def task(self) -> str | None:
        return self.model.task

    def _known_user(self, user_id: int) -> User | None:
        return None if self.page is None else self.page.users.get(user_id)

    @strawberry.field
    def reporter(self, info: Info) -> User:
        user_id = self.model.reporter_id
        return now_or_later(self._known_user(user_id), lambda: _user(info, user_id))

    @strawberry.field
    def assigned_to(self, info: Info) -> User | None:
        user_id = self.model.assigned_to_id
        if user_id is None:
            return None
        return now_or_later(self._known_user(user_id), lambda: _user(info, user_id))

    async def _supported_by(self, info: Info) -> list[User]:
        users = await info.context.loaders.supporters_by_incident_id.load(self.model.id)
        return [User.from_model(u) for u in users]

    @strawberry.field
    def supported_by(self, info: Info) -> list[User]:
        known = None if self.page is None else _known(self.page.supporters, self.model.id, [])
        return now_or_later(known, lambda: self._supported_by(info))

    @strawberry.field
    async def watchers(self, info: Info) -> list[User]:
        users = await info.context.loaders.watchers_by_incident_id.load(self.model.id)
        return [User.from_model(u) for u in users]

    @strawberry.field
    async def references(self, info: Info) -> list[Reference]:
        found = await info.context.loaders.references_by_incident_id.load(self.model.id)
        return [Reference.from_model(r) for r in found]

    @strawberry.field
    def comments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        loaders = info.context.loaders
        rows = _incident_rows(
            loaders.comments_by_incident_page,
            loaders.comment_count_by_incident_id,
            (self.model.id, first, after),
            Comment.from_model,
        )
        if self.page is not None:
            rows.known_count = _known(self.page.comment_counts, self.model.id, 0)
        return rows

    @strawberry.field(
        description="Every file of the incident: those of its report and of its comments."
    )
    async def attachments(self, info: Info) -> list[Attachment]:
        found = await info.context.loaders.attachments_by_incident_id.load(self.model.id)
        return [Attachment.from_model(a) for a in found]

    @strawberry.field
    def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[IncidentEvent]:
        loaders = info.context.loaders
        return _incident_rows(
            loaders.events_by_incident_page,
            loaders.event_count_by_incident_id,
            (self.model.id, first, after),
            IncidentEvent.from_model,
        )

    @strawberry.field(
        description="Incremented by every change; pass it back as expectedVersion to avoid "
        "overwriting someone else's change."
    )
    def version(self) -> int:
        return self.model.version

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.model.updated_at

    @strawberry.field(
        description="Statuses this viewer may move the incident to from its current status.",
        directives=[ViewerDependent()],
    )
    def allowed_transitions(self, info: Info) -> list[IncidentStatus]:
        viewer = info.context.viewer
        if viewer is None:
            return []
        known = None
        if self.page is not None:
            known = _known(self.page.supporter_ids, self.model.id, frozenset())
        if known is not None:
            return self._allowed(viewer, known)
        return cast(list[IncidentStatus], self._allowed_later(info, viewer))

    async def _allowed_later(self, info: Info, viewer: accounts.User) -> list[IncidentStatus]:
        supporters = await info.context.loaders.supporters_by_incident_id.load(self.model.id)
        return self._allowed(viewer, {u.id for u in supporters})

    def _allowed(self, viewer: accounts.User, supporter_ids: Set[int]) -> list[IncidentStatus]:
        parties = parties_of(viewer, self.model, supporter_ids)
        return list(allowed_targets(IncidentStatus(self.model.status), parties))

    @classmethod
    def from_model(cls, incident: incidents.Incident, page: PageValues | None = None) -> Incident:
        return cls(id=to_global_id("Incident", incident.id), model=incident, page=page)


@strawberry.type
class StatusCount:
    status: IncidentStatus
    count: int


@strawberry.type
class PriorityCount:
    priority: Priority
    count: int


@strawberry.type(description="The figures at the top of the incident dashboard.")
class Dashboard:
    total: int
    open: int
    overdue: int
    by_status: list[StatusCount]
    by_priority: list[PriorityCount]

    @classmethod
    def from_figures(cls, figures: queries.DashboardFigures) -> Dashboard:
        return cls(
            total=figures.total,
            open=figures.open,
            overdue=figures.overdue,
            by_status=[StatusCount(status=s, count=n) for s, n in figures.by_status.items()],
            by_priority=[
                PriorityCount(priority=p, count=n) for p, n in figures.by_priority.items()
            ],
        )
