"""Mutation resolvers: parse the input, call one service function, map the result to the
payload. A domain error becomes the payload's ``errors`` in one place, ``api.errors.mutation``."""

from __future__ import annotations

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from gql_support.accounts import reset
from gql_support.accounts import service as accounts
from gql_support.accounts.models import User as UserModel
from gql_support.api.context import Info
from gql_support.api.errors import UserError, mutation
from gql_support.api.ids import decode_id
from gql_support.api.inputs import (
    AddCommentInput,
    AssignIncidentInput,
    ChangePasswordInput,
    CreateUserInput,
    LoginInput,
    ReportIncidentInput,
    RequestPasswordResetInput,
    ResetPasswordInput,
    SaveIncidentInput,
    UpdateProfileInput,
    UpdateStatusInput,
    UpdateUserInput,
    WatchIncidentInput,
    edit_values,
    references,
    report_values,
)
from gql_support.api.types import Comment, Incident, User
from gql_support.attachments.service import IncomingFile
from gql_support.errors import InvalidInput
from gql_support.incidents import models as incidents
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(
        description="Bearer token for the Authorization header and the WebSocket "
        "connection_init payload."
    )
    viewer: User | None
    errors: list[UserError] = strawberry.field(default_factory=list)


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
class CreateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class UpdateProfilePayload:
    user: User | None = strawberry.field(
        description="The viewer after the change; null when nothing was changed."
    )
    errors: list[UserError]


@strawberry.type
class ChangePasswordPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class RequestPasswordResetPayload:
    errors: list[UserError] = strawberry.field(
        description="Empty whether or not the address is a user's."
    )


@strawberry.type
class ResetPasswordPayload:
    errors: list[UserError]


@strawberry.type
class IncidentPayload:
    incident: Incident | None = strawberry.field(
        description="The incident after the change; null when nothing was changed."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


@strawberry.type
class CommentPayload:
    comment: Comment | None
    incident: Incident | None
    errors: list[UserError] = strawberry.field(default_factory=list)
    client_mutation_id: str | None = None


def _actor(info: Info) -> UserModel:
    assert info.context.viewer is not None, "guarded by IsAuthenticated"
    return info.context.viewer


async def _write(info: Info) -> UserModel:
    """The actor, once a write is taken from their budget (RateLimited when it is spent)."""
    actor = _actor(info)
    await info.context.throttle.spend_write(user_id=actor.id)
    return actor


def _address(info: Info) -> str | None:
    client = info.context.request.client
    return None if client is None else client.host


def _token_id(info: Info) -> int:
    token_id = info.context.token_id
    assert token_id is not None, "guarded by IsAuthenticated"
    return token_id


def _new_password(info: Info, *, current: str | None, new: str) -> accounts.NewPassword:
    return accounts.NewPassword(
        current=current, new=new, address=_address(info), throttle=info.context.throttle
    )


def _incident_pk(global_id: strawberry.ID) -> int:
    return decode_id(global_id, "Incident", field=["input", "incidentId"])


def _changed(
    info: Info, incident: incidents.Incident, client_mutation_id: str | None
) -> IncidentPayload:
    return IncidentPayload(
        incident=Incident.from_model(incident, info.context.loaders),
        client_mutation_id=client_mutation_id,
    )


def _uploads(attachments: list[Upload] | None) -> list[IncomingFile]:
    """The files of a multipart request (see the GraphQL multipart request specification)."""
    files: list[IncomingFile] = []
    for upload in attachments or []:
        if not isinstance(upload, UploadFile):
            raise InvalidInput("attachments must be files", field=["input", "attachments"])
        files.append(upload)
    return files


@strawberry.type
class Mutation:
    @mutation(signed_in=False)
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        user, token = await accounts.login(
            email=input.email,
            password=input.password,
            address=_address(info),
            throttle=info.context.throttle,
            lifetime=info.context.token_lifetime,
        )
        return LoginPayload(token=token, viewer=User.from_model(user))

    @mutation(description="Revokes the token of this request; its open connections are closed.")
    async def logout(self, info: Info) -> LogoutPayload:
        await accounts.logout(token_id=_token_id(info))
        return LogoutPayload(errors=[])

    @mutation(
        description="Sets a new password, given the current one (tries count as logins). "
        "Every other token of the viewer is revoked; this one stays."
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        user = await accounts.change_password(
            user=await _write(info),
            token_id=_token_id(info),
            password=_new_password(info, current=input.current_password, new=input.new_password),
        )
        return ChangePasswordPayload(user=User.from_model(user), errors=[])

    @mutation(
        signed_in=False,
        description="Emails a link to set a new password, if the address is an active "
        "user's; the answer is the same either way. Limited per address and per client.",
    )
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        options = info.context.accounts
        await reset.request_password_reset(
            email=input.email,
            address=_address(info),
            throttle=info.context.throttle,
            signer=options.reset_signer,
            lifetime=options.reset_lifetime,
        )
        return RequestPasswordResetPayload(errors=[])

    @mutation(
        signed_in=False,
        description="Sets a new password with the token of a reset link (once, before it "
        "expires); every token of the user is revoked. Sign in with the new password.",
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> ResetPasswordPayload:
        await reset.reset_password(token=input.token, new_password=input.new_password)
        return ResetPasswordPayload(errors=[])

    @mutation(
        description="The viewer changes their name, language, time zone or password (with "
        "the current one; every other token is then revoked)."
    )
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        new = input.new_password
        user = await accounts.update_profile(
            user=await _write(info),
            token_id=_token_id(info),
            name=input.name,
            locale=input.locale,
            time_zone=input.time_zone,
            password=None
            if new is None
            else _new_password(info, current=input.current_password, new=new),
        )
        return UpdateProfilePayload(user=User.from_model(user), errors=[])

    @mutation(description="ADMIN only: create a user.")
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload:
        user = await accounts.add_user(
            actor=_actor(info),
            email=input.email,
            name=input.name,
            role=input.role,
            locale=input.locale,
            time_zone=input.time_zone or info.context.accounts.default_time_zone,
            password=input.password,
        )
        return CreateUserPayload(user=User.from_model(user), errors=[])

    @mutation(
        description="ADMIN only: change a user's name, email, role, language, time zone or "
        "active flag. The last active admin can be neither demoted nor deactivated."
    )
    async def update_user(self, info: Info, input: UpdateUserInput) -> UpdateUserPayload:
        user = await accounts.update_user(
            actor=_actor(info),
            user_id=decode_id(input.user_id, "User", field=["input", "userId"]),
            role=input.role,
            is_active=input.is_active,
            name=input.name,
            email=input.email,
            locale=input.locale,
            time_zone=input.time_zone,
        )
        return UpdateUserPayload(user=User.from_model(user), errors=[])

    @mutation()
    async def report_incident(self, info: Info, input: ReportIncidentInput) -> IncidentPayload:
        incident = await service.report_incident(
            actor=await _write(info),
            description=input.description,
            changes=IncidentChanges(
                **report_values(input),
                comment=input.comment,
                references=references(input.references),
                attachments=_uploads(input.attachments),
            ),
            store=info.context.attachments,
        )
        return _changed(info, incident, input.client_mutation_id)

    @mutation()
    async def assign_incident(self, info: Info, input: AssignIncidentInput) -> IncidentPayload:
        done = await service.edit_incident(
            actor=await _write(info),
            incident_id=_incident_pk(input.incident_id),
            changes=IncidentChanges(**edit_values(input)),
            expected_version=input.expected_version,
        )
        return _changed(info, done.incident, input.client_mutation_id)

    @mutation()
    async def update_status(self, info: Info, input: UpdateStatusInput) -> IncidentPayload:
        incident = await service.update_status(
            actor=await _write(info),
            incident_id=_incident_pk(input.incident_id),
            status=input.status,
            comment=input.comment,
            expected_version=input.expected_version,
        )
        return _changed(info, incident, input.client_mutation_id)

    @mutation()
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentPayload:
        comment, incident = await service.add_comment(
            actor=await _write(info),
            incident_id=_incident_pk(input.incident_id),
            body=input.body,
            references=references(input.references),
            attachments=_uploads(input.attachments),
            store=info.context.attachments,
        )
        return CommentPayload(
            comment=Comment.from_model(comment),
            incident=Incident.from_model(incident, info.context.loaders),
            client_mutation_id=input.client_mutation_id,
        )

    @mutation()
    async def save_incident(self, info: Info, input: SaveIncidentInput) -> IncidentPayload:
        done = await service.edit_incident(
            actor=await _write(info),
            incident_id=_incident_pk(input.incident_id),
            expected_version=input.expected_version,
            changes=IncidentChanges(
                **edit_values(input),
                comment=input.comment,
                references=references(input.references),
                attachments=_uploads(input.attachments),
            ),
            store=info.context.attachments,
        )
        return _changed(info, done.incident, input.client_mutation_id)

    @mutation()
    async def watch_incident(self, info: Info, input: WatchIncidentInput) -> IncidentPayload:
        incident = await service.watch_incident(
            actor=await _write(info),
            incident_id=_incident_pk(input.incident_id),
            watching=input.watching,
        )
        return _changed(info, incident, input.client_mutation_id)
