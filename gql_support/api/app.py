"""The Starlette application: bearer-token authentication, the GraphQL endpoint (HTTP and
WebSocket, with GraphiQL), and, for the app's lifetime, the database and the email sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from tortoise.contrib.starlette import RegisterTortoise

from gql_support.accounts.models import User
from gql_support.accounts.service import user_for_token
from gql_support.api.context import Context
from gql_support.api.schema import build_schema
from gql_support.db import tortoise_config
from gql_support.notify.worker import OutboxWorker, wake_on_commits
from gql_support.settings import Settings


class Viewer(BaseUser):
    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.name


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None if there is none."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be: Bearer <token>")
    return token.strip()


class BearerTokenBackend(AuthenticationBackend):
    """A request without a token is anonymous; a request with a bad one is refused (401)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = bearer_token(conn.headers.get("authorization"))
        if token is None:
            return None
        user = await user_for_token(token=token)
        if user is None:
            raise AuthenticationError("invalid or revoked token")
        return AuthCredentials(["authenticated"]), Viewer(user)


def _refuse(conn: HTTPConnection, error: AuthenticationError) -> Response:
    return JSONResponse(
        {"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class GraphQLView(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        viewer = request.user.user if isinstance(request.user, Viewer) else None
        return Context(request=request, response=response, viewer=viewer)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params
        headers = {str(k).lower(): v for k, v in params.items()} if isinstance(params, dict) else {}
        value = headers.get("authorization")
        try:
            token = bearer_token(value if isinstance(value, str) else None)
        except AuthenticationError:
            token = None
        user = None if token is None else await user_for_token(token=token)
        if user is None:
            raise ConnectionRejectionError({"reason": "send Authorization: Bearer <token>"})
        context.viewer = user
        return None


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


@asynccontextmanager
async def outbox_sender(settings: Settings) -> AsyncIterator[OutboxWorker]:
    """Runs an outbox worker in the background, woken by every commit of this process, and
    stops it cleanly (the message in hand is finished, the rest released) on the way out."""
    sender = OutboxWorker(settings)
    wake = asyncio.Event()
    waker = asyncio.create_task(wake_on_commits(wake), name="outbox-wake")
    running = asyncio.create_task(sender.run(wake), name="outbox-sender")
    try:
        yield sender
    finally:
        sender.stop()
        waker.cancel()
        await asyncio.gather(running, waker, return_exceptions=True)


def create_app(settings: Settings, *, manage_database: bool = True) -> Starlette:
    """The ASGI app; with ``manage_database`` its lifespan opens and closes the database and,
    when ``outbox_in_serve`` is on, runs the email sender."""
    graphql = GraphQLView(
        build_schema(debug=settings.debug),
        graphql_ide="graphiql" if settings.graphiql else None,
        keep_alive=True,
        keep_alive_interval=15,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        async with RegisterTortoise(app, config=tortoise_config(settings)):
            if not settings.outbox_in_serve:
                yield
                return
            async with outbox_sender(settings):
                yield

    return Starlette(
        debug=settings.debug,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", _health),
        ],
        middleware=[
            Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(), on_error=_refuse)
        ],
        lifespan=lifespan,
    )
