"""Mutation resolvers: parse the input, call one service function, map the result or the
domain error to the payload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload
from strawberry.permission import BasePermission

from gql_support.accounts import service as accounts
from gql_support.accounts.models import User as UserModel
from gql_support.api.context import Info
from gql_support.api.errors import IsAuthenticated, UserError
from gql_support.api.ids import decode_id
from gql_support.api.inputs import (
    AddCommentInput,
    AssignIncidentInput,
    LoginInput,
    ReportIncidentInput,
    SaveIncidentInput,
    UpdateStatusInput,
    UpdateUserInput,
    WatchIncidentInput,
    given,
    given_list,
    identity,
    references,
    user_pk,
)
from gql_support.api.types import Comment, Incident, User
from gql_support.attachments.service import IncomingFile
from gql_support.errors import DomainError, InvalidInput
from gql_support.incidents import models as incidents
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges

R = TypeVar("R")


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(
        description="Bearer token for the Authorization header and the WebSocket "
        "connection_init payload."
    )
    viewer: User | None
    errors: list[UserError]


@strawberry.type
class LogoutPayload:
    errors: list[UserError]


@strawberry.type
class UpdateUserPayload:
    user: User | None = strawberry.field(
        description="The user after the change; null when nothing was changed."
    )
    errors: list[UserError]


@strawberry.type
class IncidentPayload:
    incident: Incident | None = strawberry.field(
        description="The incident after the change; null when nothing was changed."
    )
    errors: list[UserError]
    client_mutation_id: str | None


@strawberry.type
class CommentPayload:
    comment: Comment | None
    incident: Incident | None
    errors: list[UserError]
    client_mutation_id: str | None


def _actor(info: Info) -> UserModel:
    assert info.context.viewer is not None, "guarded by IsAuthenticated"
    return info.context.viewer


async def _write(info: Info) -> UserModel:
    """The actor, once a write is taken from their budget (RateLimited when it is spent)."""
    actor = _actor(info)
    await info.context.throttle.spend_write(user_id=actor.id)
    return actor


def _incident_pk(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "Incident", field=["input", "incidentId"])


def _uploads(attachments: list[Upload] | None) -> list[IncomingFile]:
    """The files of a multipart request (see the GraphQL multipart request specification)."""
    files: list[IncomingFile] = []
    for upload in attachments or []:
        if not isinstance(upload, UploadFile):
            raise InvalidInput("attachments must be files", field=["input", "attachments"])
        files.append(upload)
    return files


async def _incident_payload(
    change: Callable[[], Awaitable[incidents.Incident]], client_mutation_id: str | None
) -> IncidentPayload:
    try:
        incident = await change()
    except DomainError as error:
        return IncidentPayload(
            incident=None,
            errors=[UserError.from_domain(error)],
            client_mutation_id=client_mutation_id,
        )
    return IncidentPayload(
        incident=Incident.from_model(incident), errors=[], client_mutation_id=client_mutation_id
    )


_signed_in: list[type[BasePermission]] = [IsAuthenticated]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        client = info.context.request.client
        try:
            user, token = await accounts.login(
                email=input.email,
                password=input.password,
                address=None if client is None else client.host,
                throttle=info.context.throttle,
                lifetime=info.context.token_lifetime,
            )
        except DomainError as error:
            return LoginPayload(token=None, viewer=None, errors=[UserError.from_domain(error)])
        return LoginPayload(token=token, viewer=User.from_model(user), errors=[])

    @strawberry.mutation(
        permission_classes=_signed_in,
        description="Revokes the token of this request; its open connections are closed.",
    )
    async def logout(self, info: Info) -> LogoutPayload:
        token_id = info.context.token_id
        assert token_id is not None, "guarded by IsAuthenticated"
        await accounts.logout(token_id=token_id)
        return LogoutPayload(errors=[])

    @strawberry.mutation(
        permission_classes=_signed_in,
        description="ADMIN only: change a user's role or active flag. The last active admin "
        "can be neither demoted nor deactivated.",
    )
    async def update_user(self, info: Info, input: UpdateUserInput) -> UpdateUserPayload:
        try:
            user = await accounts.update_user(
                actor=_actor(info),
                user_id=user_pk("userId")(input.user_id),
                role=input.role,
                is_active=input.is_active,
            )
        except DomainError as error:
            return UpdateUserPayload(user=None, errors=[UserError.from_domain(error)])
        return UpdateUserPayload(user=User.from_model(user), errors=[])

    @strawberry.mutation(permission_classes=_signed_in)
    async def report_incident(self, info: Info, input: ReportIncidentInput) -> IncidentPayload:
        async def change() -> incidents.Incident:
            return await service.report_incident(
                actor=await _write(info),
                description=input.description,
                type=input.type,
                impact=input.impact,
                urgency=input.urgency,
                changes=IncidentChanges(
                    assigned_to_id=given(input.assigned_to_id, user_pk("assignedToId")),
                    supported_by_ids=given_list(input.supported_by_ids, user_pk("supportedByIds")),
                    watcher_ids=given_list(input.watcher_ids, user_pk("watcherIds")),
                    due_date=given(input.due_date, identity),
                    task=given(input.task, identity),
                    comment=input.comment,
                    references=references(input.references),
                    attachments=_uploads(input.attachments),
                ),
                store=info.context.attachments,
            )

        return await _incident_payload(change, input.client_mutation_id)

    @strawberry.mutation(permission_classes=_signed_in)
    async def assign_incident(self, info: Info, input: AssignIncidentInput) -> IncidentPayload:
        async def change() -> incidents.Incident:
            assignee = input.assigned_to_id
            return await service.assign_incident(
                actor=await _write(info),
                incident_id=_incident_pk(input.incident_id),
                assigned_to_id=None if assignee is None else user_pk("assignedToId")(assignee),
                supported_by_ids=given_list(input.supported_by_ids, user_pk("supportedByIds")),
                expected_version=input.expected_version,
            )

        return await _incident_payload(change, input.client_mutation_id)

    @strawberry.mutation(permission_classes=_signed_in)
    async def update_status(self, info: Info, input: UpdateStatusInput) -> IncidentPayload:
        async def change() -> incidents.Incident:
            return await service.update_status(
                actor=await _write(info),
                incident_id=_incident_pk(input.incident_id),
                status=input.status,
                comment=input.comment,
                expected_version=input.expected_version,
            )

        return await _incident_payload(change, input.client_mutation_id)

    @strawberry.mutation(permission_classes=_signed_in)
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentPayload:
        try:
            comment, incident = await service.add_comment(
                actor=await _write(info),
                incident_id=_incident_pk(input.incident_id),
                body=input.body,
                references=references(input.references),
                attachments=_uploads(input.attachments),
                store=info.context.attachments,
            )
        except DomainError as error:
            return CommentPayload(
                comment=None,
                incident=None,
                errors=[UserError.from_domain(error)],
                client_mutation_id=input.client_mutation_id,
            )
        return CommentPayload(
            comment=Comment.from_model(comment),
            incident=Incident.from_model(incident),
            errors=[],
            client_mutation_id=input.client_mutation_id,
        )

    @strawberry.mutation(permission_classes=_signed_in)
    async def save_incident(self, info: Info, input: SaveIncidentInput) -> IncidentPayload:
        async def change() -> incidents.Incident:
            actor = await _write(info)
            for required in ("status", "type", "impact", "urgency"):
                if getattr(input, required) is None:
                    raise InvalidInput(f"{required} cannot be null", field=["input", required])
            done = await service.edit_incident(
                actor=actor,
                incident_id=_incident_pk(input.incident_id),
                expected_version=input.expected_version,
                changes=IncidentChanges(
                    assigned_to_id=given(input.assigned_to_id, user_pk("assignedToId")),
                    supported_by_ids=given_list(input.supported_by_ids, user_pk("supportedByIds")),
                    watcher_ids=given_list(input.watcher_ids, user_pk("watcherIds")),
                    status=given(input.status, identity),  # type: ignore[arg-type]
                    type=given(input.type, identity),  # type: ignore[arg-type]
                    impact=given(input.impact, identity),  # type: ignore[arg-type]
                    urgency=given(input.urgency, identity),  # type: ignore[arg-type]
                    due_date=given(input.due_date, identity),
                    task=given(input.task, identity),
                    comment=input.comment,
                    references=references(input.references),
                    attachments=_uploads(input.attachments),
                ),
                store=info.context.attachments,
            )
            return done.incident

        return await _incident_payload(change, input.client_mutation_id)

    @strawberry.mutation(permission_classes=_signed_in)
    async def watch_incident(self, info: Info, input: WatchIncidentInput) -> IncidentPayload:
        async def change() -> incidents.Incident:
            return await service.watch_incident(
                actor=await _write(info),
                incident_id=_incident_pk(input.incident_id),
                watching=input.watching,
            )

        return await _incident_payload(change, input.client_mutation_id)
