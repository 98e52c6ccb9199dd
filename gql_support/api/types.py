"""Strawberry object types: the contract's shapes, built from the domain models or, for a page of
the dashboard, from plain values read in one statement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.schema_directive import Location
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from gql_support.accounts import models as accounts
from gql_support.accounts.models import Role
from gql_support.accounts.timezones import DEFAULT_TIME_ZONE
from gql_support.api.context import Info
from gql_support.api.dataloaders import Loaders, PageKey, PageResult
from gql_support.api.ids import to_global_id
from gql_support.attachments import models as attachments
from gql_support.exports.view import ExportFormat
from gql_support.incidents import models as incidents
from gql_support.incidents import queries
from gql_support.incidents.counting import EXACT_UP_TO
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
            # SQLite's JSON holds a boolean as 0 or 1.
            is_active=bool(row["is_active"]),
            time_zone=row["time_zone"],
        )


T = TypeVar("T")


class Later(Generic[T]):
    """A field's value, read only if the query selects the field. A field without a resolver
    is the cheapest Strawberry has (its attribute, handed over as it is), and graphql-core
    awaits a field's value when it is awaitable: so a value a page read up front is a plain
    attribute (no call, no task of its own), and one it did not is a ``Later``, read when
    awaited. Never awaited, it reads nothing (and, not being a coroutine, warns of nothing)."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read

    def __await__(self) -> Generator[Any, None, T]:
        return self._read().__await__()


def known_or_later(value: T | None, read: Callable[[], Awaitable[T]]) -> T:
    """``value`` when it is known, else a ``Later`` that reads it (typed as the value: the
    field's type is what the query sees)."""
    return value if value is not None else cast(T, Later(read))


@dataclass(frozen=True)
class PageValues:
    """What the dashboard's ``incidents`` resolver read up front for a whole page, as plain
    values, for the fields its query selects (absent: read through the loaders)."""

    users: Mapping[int, User] = field(default_factory=dict)
    supporters: Mapping[int, list[User]] | None = None
    supporter_ids: Mapping[int, frozenset[int]] | None = None
    comment_counts: Mapping[int, int] | None = None


async def _user(loaders: Loaders, user_id: int) -> User:
    row = await loaders.user_by_id.load(user_id)
    assert row is not None, "foreign keys keep users in place"
    return User.from_row(row)


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
        return await _user(info.context.loaders, self.added_by_id)

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
        return await _user(info.context.loaders, self.model.uploaded_by_id)

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
        return await _user(info.context.loaders, self.author_id)

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
        return None if self.actor_id is None else await _user(info.context.loaders, self.actor_id)

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
    ``comments { totalCount }`` loads no comment (see ``Later``)."""

    edges: list[Edge[N]]
    nodes: list[N]
    page_info: PageInfo
    total_count: int
    total_count_is_estimate: bool = strawberry.field(
        default=False,
        description="Whether totalCount is PostgreSQL's estimate rather than an exact count: "
        "only for a word search (with or without other conditions) estimated to match more "
        f"than {EXACT_UP_TO:,} incidents.",
    )

    @classmethod
    def of(
        cls,
        edges: list[Edge[N]],
        page_info: PageInfo,
        *,
        count: int,
        count_is_estimate: bool = False,
    ) -> Connection[N]:
        """A page already read (``count`` and ``count_is_estimate`` may be ``Later``s)."""
        nodes = [edge.node for edge in edges]
        return cls(
            edges=edges,
            nodes=nodes,
            page_info=page_info,
            total_count=count,
            total_count_is_estimate=count_is_estimate,
        )

    @classmethod
    def later(
        cls,
        load: Callable[[], Awaitable[tuple[list[Edge[N]], PageInfo]]],
        *,
        count: int,
    ) -> Connection[N]:
        """A page read when a field of it is awaited (``load`` is cached by a DataLoader)."""

        async def edges() -> list[Edge[N]]:
            return (await load())[0]

        async def nodes() -> list[N]:
            return [edge.node for edge in (await load())[0]]

        async def page_info() -> PageInfo:
            return (await load())[1]

        return cls(
            edges=known_or_later(None, edges),
            nodes=known_or_later(None, nodes),
            page_info=known_or_later(None, page_info),
            total_count=count,
        )


def _incident_rows(
    pages: DataLoader[PageKey, PageResult],
    counts: DataLoader[int, int],
    key: PageKey,
    convert: Callable[[Any], N],
    *,
    count: int | None = None,
) -> Connection[N]:
    """The connection over one incident's comments or history, read through the loaders
    (its count too, unless known)."""

    async def load() -> tuple[list[Edge[N]], PageInfo]:
        rows, has_next = await pages.load(key)
        edges = [Edge(cursor=queries.row_cursor(r), node=convert(r)) for r in rows]
        cursors = [e.cursor for e in edges]
        return edges, PageInfo.of(cursors, has_next=has_next, has_previous=key[2] is not None)

    return Connection.later(load, count=known_or_later(count, lambda: counts.load(key[0])))


def _given(value: T | None) -> T | None:
    """An argument's value; None when the query left it out (``UNSET``)."""
    return None if value is strawberry.UNSET else value


def _known(values: Mapping[int, T] | None, key: int, default: T) -> T | None:
    return None if values is None else values.get(key, default)


@strawberry.type
class Incident(Node):
    """An incident's own values are plain attributes (Strawberry resolves them without a call of
    ours); its relations resolve from what a page read up front, else through the loaders."""

    number: int = strawberry.field(
        description="Request ID: a running sequence number, shown to people as e.g. #42."
    )
    description: str
    type: IncidentType
    impact: Impact
    urgency: Urgency
    priority: Priority
    status: IncidentStatus
    due_date: datetime | None

    @strawberry.field(
        description="True when the due date has passed and the incident is still open."
    )
    def is_overdue(self) -> bool:
        due = self.due_date
        open_ = self.status in incidents.OPEN_STATUSES
        return due is not None and due < datetime.now(UTC) and open_

    task: str | None = strawberry.field(
        description="The process task, step or scenario the incident was raised on."
    )

    # Known when a page read them, else read when selected (``Later``).
    reporter: User
    assigned_to: User | None
    supported_by: list[User]

    pk: strawberry.Private[int]
    reporter_id: strawberry.Private[int]
    assigned_to_id: strawberry.Private[int | None]
    page: strawberry.Private[PageValues | None] = None

    @strawberry.field
    async def watchers(self, info: Info) -> list[User]:
        rows = await info.context.loaders.watchers_by_incident_id.load(self.pk)
        return [User.from_row(row) for row in rows]

    @strawberry.field
    async def references(self, info: Info) -> list[Reference]:
        found = await info.context.loaders.references_by_incident_id.load(self.pk)
        return [Reference.from_model(r) for r in found]

    # ``first`` and ``after`` have no default, as in the contract: graphql-core then hands
    # Strawberry no argument to convert on each incident of a page that leaves them out.
    @strawberry.field
    def comments(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[Comment]:
        loaders = info.context.loaders
        return _incident_rows(
            loaders.comments_by_incident_page,
            loaders.comment_count_by_incident_id,
            (self.pk, _given(first), _given(after)),
            Comment.from_model,
            count=None if self.page is None else _known(self.page.comment_counts, self.pk, 0),
        )

    @strawberry.field(
        description="Every file of the incident: those of its report and of its comments."
    )
    async def attachments(self, info: Info) -> list[Attachment]:
        found = await info.context.loaders.attachments_by_incident_id.load(self.pk)
        return [Attachment.from_model(a) for a in found]

    @strawberry.field
    def history(
        self, info: Info, first: int | None = strawberry.UNSET, after: str | None = strawberry.UNSET
    ) -> Connection[IncidentEvent]:
        loaders = info.context.loaders
        return _incident_rows(
            loaders.events_by_incident_page,
            loaders.event_count_by_incident_id,
            (self.pk, _given(first), _given(after)),
            IncidentEvent.from_model,
        )

    version: int = strawberry.field(
        description="Incremented by every change; pass it back as expectedVersion to avoid "
        "overwriting someone else's change."
    )
    created_at: datetime
    updated_at: datetime

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
            known = _known(self.page.supporter_ids, self.pk, frozenset())
        if known is not None:
            return self._allowed(viewer, known)
        return cast(list[IncidentStatus], self._allowed_later(info, viewer))

    async def _allowed_later(self, info: Info, viewer: accounts.User) -> list[IncidentStatus]:
        rows = await info.context.loaders.supporters_by_incident_id.load(self.pk)
        return self._allowed(viewer, {row["id"] for row in rows})

    def _allowed(self, viewer: accounts.User, supporter_ids: Set[int]) -> list[IncidentStatus]:
        parties = parties_of(viewer, self, supporter_ids)
        return list(allowed_targets(IncidentStatus(self.status), parties))

    @classmethod
    def from_model(cls, incident: incidents.Incident, loaders: Loaders) -> Incident:
        values = {name: getattr(incident, name) for name in _INCIDENT_VALUES}
        return cls._of(values, loaders, None)

    @classmethod
    def from_row(cls, row: dict[str, Any], loaders: Loaders, page: PageValues) -> Incident:
        """From the plain values of ``queries.list_incidents``, with what its page read: the
        columns of the fields the query selects (``incident_columns``), the others None."""
        return cls._of(defaultdict(lambda: None, row), loaders, page)

    @classmethod
    def _of(cls, values: dict[str, Any], loaders: Loaders, page: PageValues | None) -> Incident:
        pk, reporter_id, assigned_to_id = (
            values["id"],
            values["reporter_id"],
            values["assigned_to_id"],
        )
        users = {} if page is None else page.users
        supporters = None if page is None else page.supporters

        async def supported_by() -> list[User]:
            rows = await loaders.supporters_by_incident_id.load(pk)
            return [User.from_row(row) for row in rows]

        return cls(
            id=to_global_id("Incident", pk),
            number=values["number"],
            description=values["description"],
            type=values["type"],
            impact=values["impact"],
            urgency=values["urgency"],
            priority=values["priority"],
            status=values["status"],
            due_date=values["due_date"],
            task=values["task"],
            version=values["version"],
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            reporter=known_or_later(users.get(reporter_id), lambda: _user(loaders, reporter_id)),
            assigned_to=None
            if assigned_to_id is None
            else known_or_later(users.get(assigned_to_id), lambda: _user(loaders, assigned_to_id)),
            supported_by=known_or_later(_known(supporters, pk, []), supported_by),
            pk=pk,
            reporter_id=reporter_id,
            assigned_to_id=assigned_to_id,
            page=page,
        )


#: The incident columns a field reads that is not a column itself (its Python name is not).
_COLUMNS_READ_BY = {
    "is_overdue": ("due_date", "status"),
    "allowed_transitions": ("status",),
    # Relations: their ids are always read.
    **dict.fromkeys(
        (
            "id",
            "reporter",
            "assigned_to",
            "supported_by",
            "watchers",
            "references",
            "comments",
            "attachments",
            "history",
        ),
        (),
    ),
}


@cache
def _incident_fields() -> dict[str, str]:
    """The Python name of each field of ``Incident``, by its GraphQL name."""
    return {
        field.graphql_name or to_camel_case(field.python_name): field.python_name
        for field in get_object_definition(Incident, strict=True).fields
    }


def incident_columns(graphql_names: Iterable[str]) -> tuple[str, ...]:
    """The incident columns that the fields of ``Incident`` with these GraphQL names show,
    for a page that reads only those; every listed column if one of them is not known here."""
    python_names = _incident_fields()
    columns: set[str] = set()
    for name in graphql_names:
        python_name = python_names.get(name)
        if python_name in queries.LISTED_COLUMNS:
            columns.add(python_name)
        elif python_name in _COLUMNS_READ_BY:
            columns.update(_COLUMNS_READ_BY[python_name])
        elif name != "__typename":
            return queries.LISTED_COLUMNS
    return tuple(columns)


#: What ``Incident`` copies of a model (the columns ``queries.list_incidents`` reads too).
_INCIDENT_VALUES = (
    "id",
    "number",
    "description",
    "type",
    "impact",
    "urgency",
    "priority",
    "status",
    "due_date",
    "task",
    "version",
    "created_at",
    "updated_at",
    "reporter_id",
    "assigned_to_id",
)


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
