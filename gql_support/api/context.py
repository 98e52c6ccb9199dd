"""The per-request context: who is asking, and the DataLoaders that batch what they read."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from gql_support import logs
from gql_support.accounts.models import User
from gql_support.accounts.reset import ResetSigner
from gql_support.accounts.throttle import Throttle
from gql_support.api.dataloaders import Loaders
from gql_support.api.exports import Exports
from gql_support.attachments.service import AttachmentStore


@dataclass(frozen=True, kw_only=True)
class AccountOptions:
    """What the account mutations take from the settings."""

    #: The time zone of a user created without one.
    default_time_zone: str
    #: Signs the tokens of password reset links.
    reset_signer: ResetSigner
    #: How long a password reset link works.
    reset_lifetime: timedelta


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    viewer: User | None
    attachments: AttachmentStore
    #: The server's address as users reach it, for download links.
    base_url: str
    #: Login attempts and writes, counted across processes.
    throttle: Throttle
    #: How long a token from ``login`` lasts.
    token_lifetime: timedelta
    accounts: AccountOptions
    #: Signs export links, and bounds exports.
    exports: Exports
    #: The id of the token the viewer signed in with (for ``logout``, and to re-check it).
    token_id: int | None = None
    loaders: Loaders = field(default_factory=Loaders)
    #: The WebSocket connection_init payload, set by Strawberry.
    connection_params: Any = None
    #: Names the request (or WebSocket connection) in masked errors and in its log lines.
    request_id: str = field(default_factory=lambda: logs.request_id.get() or secrets.token_hex(8))


Info = StrawberryInfo[Context, Any]
