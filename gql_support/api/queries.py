"""Query resolvers: each parses its arguments and calls one read function of the domain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.permission import BasePermission
from strawberry.types.nodes import SelectedField, Selection

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role
from gql_support.api.context import Info
from gql_support.api.errors import IsAuthenticated, UserError, UserErrors
from gql_support.api.ids import parse_global_id
from gql_support.api.inputs import IncidentFilter, IncidentOrder
from gql_support.api.types import (
    Attachment,
    Comment,
    Connection,
    Dashboard,
    Edge,
    Incident,
    IncidentEvent,
    Node,
    PageInfo,
    PageValues,
    Reference,
    User,
    ViewerDependent,
    incident_columns,
    known_or_later,
)
from gql_support.attachments import models as attachments
from gql_support.exports import service as exports
from gql_support.exports.view import ExportFormat, ExportView
from gql_support.incidents import models as incidents
from gql_support.incidents import queries

_signed_in: list[type[BasePermission]] = [IsAuthenticated]


def _viewer(info: Info) -> User:
    assert info.context.viewer is not None, "guarded by IsAuthenticated"
    return User.from_model(info.context.viewer)


async def _node(info: Info, id: strawberry.ID) -> Node | None:
    parsed = parse_global_id(id)
    if parsed is None:
        return None
    type_name, pk = parsed
    if type_name == "User":
        row = await info.context.loaders.user_by_id.load(pk)
        return None if row is None else User.from_row(row)
    if type_name == "Incident":
        incident = await queries.get_incident(incident_id=pk)
        return None if incident is None else Incident.from_model(incident, info.context.loaders)
    if type_name == "Comment":
        comment = await incidents.Comment.get_or_none(id=pk)
        return None if comment is None else Comment.from_model(comment)
    if type_name == "Reference":
        reference = await incidents.Reference.get_or_none(id=pk)
        return None if reference is None else Reference.from_model(reference)
    if type_name == "Attachment":
        attachment = await attachments.Attachment.get_or_none(id=pk)
        return None if attachment is None else Attachment.from_model(attachment)
    if type_name == "IncidentEvent":
        event = await incidents.IncidentEvent.get_or_none(id=pk)
        return None if event is None else IncidentEvent.from_model(event)
    return None


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection, through its fragments."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _node_fields(selected: Iterable[Selection]) -> dict[str, list[SelectedField]]:
    """The fields a connection's query selects on its nodes (through ``nodes`` and
    ``edges { node }``), by name."""
    wanted: dict[str, list[SelectedField]] = {}
    for connection in _fields(selected):
        for part in _fields(connection.selections):
            nodes = [part] if part.name == "nodes" else []
            if part.name == "edges":
                nodes = [f for f in _fields(part.selections) if f.name == "node"]
            for node in nodes:
                for node_field in _fields(node.selections):
                    wanted.setdefault(node_field.name, []).append(node_field)
    return wanted


def _page_extras(
    selected: Iterable[Selection], wanted: dict[str, list[SelectedField]]
) -> queries.PageExtras:
    """What the page's statement reads beside the incidents' columns, for what the query
    selects on the connection and its nodes."""
    comments = wanted.get("comments", [])
    on_connection = {part.name for field in _fields(selected) for part in _fields(field.selections)}
    return queries.PageExtras(
        total_count="totalCount" in on_connection,
        comment_count=any(f.name == "totalCount" for c in comments for f in _fields(c.selections)),
        users="reporter" in wanted or "assignedTo" in wanted,
        supporters="supportedBy" in wanted or "allowedTransitions" in wanted,
    )


def _page_values(rows: list[dict[str, Any]], extras: queries.PageExtras) -> PageValues:
    """The relations of a page of incidents that its statement read, as plain values: the
    users (reporters, assignees, supporters), supporters and comment counts."""
    users: dict[int, User] = {}

    def user(values: Sequence[Any]) -> User:
        # ``USER_COLUMNS`` in order, the id first; each user is built once a page.
        found = users.get(values[0])
        if found is None:
            row = dict(zip(queries.USER_COLUMNS, values, strict=True))
            found = users[values[0]] = User.from_row(row)
        return found

    supporters = supporter_ids = counts = None
    if extras.users:
        for row in rows:
            for name in ("reporter_user", "assignee_user"):
                if row[name] is not None:
                    user(row[name])
    if extras.supporters:
        found = {row["id"]: row["supporter_users"] for row in rows}
        supporters = {i: [user(u) for u in them] for i, them in found.items()}
        supporter_ids = {i: frozenset(u[0] for u in them) for i, them in found.items()}
    if extras.comment_count:
        counts = {row["id"]: row["comment_count"] for row in rows}
    return PageValues(
        users=users, supporters=supporters, supporter_ids=supporter_ids, comment_counts=counts
    )


@strawberry.type(description="A download link to the dashboard's list as a file.")
class ExportIncidentsPayload:
    url: str | None = strawberry.field(
        description="GET it (a browser link works: no token needed) before expiresAt; it is "
        "valid for the viewer only."
    )
    format: ExportFormat | None
    expires_at: datetime | None
    row_count: int | None = strawberry.field(
        description="How many incidents the view holds now (the file holds those of the moment "
        "it is fetched)."
    )
    errors: list[UserError]


@strawberry.type
class Query:
    node: Node | None = strawberry.field(resolver=_node, permission_classes=_signed_in)
    viewer: User = strawberry.field(
        resolver=_viewer,
        permission_classes=_signed_in,
        description="The user making the request.",
        directives=[ViewerDependent()],
    )

    @strawberry.field(
        permission_classes=_signed_in,
        description="People to choose from in the Assigned To / Supported By / Watchlist "
        "dropdowns.",
    )
    async def users(
        self, role: list[Role] | None = None, search: str | None = None, first: int | None = None
    ) -> list[User]:
        found = await accounts.list_users(roles=role, search=search, first=first)
        return [User.from_model(u) for u in found]

    @strawberry.field(permission_classes=_signed_in)
    async def incident(
        self, info: Info, id: strawberry.ID | None = None, number: int | None = None
    ) -> Incident | None:
        if id is not None:
            parsed = parse_global_id(id)
            if parsed is None or parsed[0] != "Incident":
                return None
            found = await queries.get_incident(incident_id=parsed[1])
        else:
            found = await queries.get_incident(number=number)
        return None if found is None else Incident.from_model(found, info.context.loaders)

    @strawberry.field(permission_classes=_signed_in)
    async def incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        order_by: IncidentOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Incident]:
        wanted = _node_fields(info.selected_fields)
        extras = _page_extras(info.selected_fields, wanted)
        page = await queries.list_incidents(
            incident_filter=None if filter is None else filter.to_domain(),
            order=None if order_by is None else order_by.to_domain(),
            first=first,
            after=after,
            columns=incident_columns(wanted),
            extras=extras,
        )
        values = _page_values(page.items, extras)
        loaders = info.context.loaders
        edges = [
            Edge(cursor=c, node=Incident.from_row(i, loaders, values))
            for c, i in zip(page.cursors, page.items, strict=True)
        ]
        page_info = PageInfo.of(
            page.cursors, has_next=page.has_next_page, has_previous=page.has_previous_page
        )
        return Connection.of(
            edges,
            page_info,
            count=known_or_later(None, page.total_count),
            count_is_estimate=known_or_later(None, page.total_count_is_estimate),
        )

    @strawberry.field(permission_classes=_signed_in)
    async def dashboard(self, filter: IncidentFilter | None = None) -> Dashboard:
        figures = await queries.dashboard(
            incident_filter=None if filter is None else filter.to_domain()
        )
        return Dashboard.from_figures(figures)

    @strawberry.field(
        permission_classes=_signed_in,
        extensions=[UserErrors()],
        description="The incidents that `incidents` would list with this filter and order, "
        "every page of them, as an XLSX or CSV file to download.",
        directives=[ViewerDependent()],
    )
    async def export_incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        order_by: IncidentOrder | None = None,
        *,
        format: ExportFormat,
    ) -> ExportIncidentsPayload:
        viewer = info.context.viewer
        assert viewer is not None, "guarded by IsAuthenticated"
        view = ExportView(
            incident_filter=None if filter is None else filter.to_domain(),
            order=queries.IncidentOrder() if order_by is None else order_by.to_domain(),
            format=format,
        )
        setup = info.context.exports
        count = await exports.check_size(view, max_rows=setup.max_rows)
        link = setup.links.make(view, user_id=viewer.id)
        return ExportIncidentsPayload(
            url=setup.links.url(link, base_url=info.context.base_url),
            format=format,
            expires_at=setup.links.expires_at(link),
            row_count=count,
            errors=[],
        )
