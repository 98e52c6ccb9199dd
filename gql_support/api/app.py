"""The Starlette application: bearer-token authentication, the GraphQL endpoint (HTTP and
WebSocket, with GraphiQL, and multipart uploads), attachment downloads, exports and, for the
app's lifetime, the database, the live-update bus and the email sender. An outage of the
database that escapes a route is answered 503 (WebSocket: closed 1013) by ``api.outage``.

Before Strawberry sees an HTTP request: a body over its limit is refused with 413 (a JSON
body at ``max_body_bytes``, an upload at what its files may add up to), and an upload from
someone not signed in with 401, both before the body is read."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage
from strawberry.types import ExecutionResult
from tortoise.contrib.starlette import RegisterTortoise

from gql_support import logs, metrics
from gql_support.accounts import service as accounts
from gql_support.accounts.models import User
from gql_support.accounts.reset import ResetSigner
from gql_support.accounts.service import Session, session_by_id, session_for_token
from gql_support.accounts.throttle import Throttle
from gql_support.api import probes, tracing
from gql_support.api.context import AccountOptions, Context
from gql_support.api.errors import UNAVAILABLE_MESSAGE
from gql_support.api.exports import Exports, download_export
from gql_support.api.outage import RETRY_AFTER_SECONDS, OutageAnswers
from gql_support.api.responses import JSON, is_request_error, negotiated, refusal, status_code
from gql_support.api.schema import build_schema
from gql_support.api.session import cookie_token, sign_in, sign_out
from gql_support.api.uploads import MAX_FORM_FIELD, csrf_refusal, download
from gql_support.attachments.service import AttachmentStore
from gql_support.db import is_unavailable, tortoise_config
from gql_support.exports.links import PATH as EXPORT_PATH
from gql_support.incidents import reminders
from gql_support.live import bus
from gql_support.notify.worker import OutboxWorker, wake_on_commits
from gql_support.settings import Settings
from gql_support.web.pages import Assets, graphiql_page, web_routes

#: WebSocket close code when the session ends (token revoked or expired, user deactivated):
#: the one a bad token gets at connection_init, so clients sign in again.
SESSION_ENDED_CLOSE_CODE = 4403


class Viewer(BaseUser):
    def __init__(self, session: Session) -> None:
        self.session = session
        self.user = session.user

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
    """A request with a bad token is refused (401). Without one, the browser's session cookie
    counts where the CSRF rules allow it (``session``); a stale cookie leaves it anonymous."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.url.path in probes.PATHS:
            # Probes answer no user: /metrics reads its own token from this header.
            return None
        token = bearer_token(conn.headers.get("authorization"))
        presented = cookie_token(conn) if token is None else token
        if presented is None:
            return None
        try:
            session = await session_for_token(token=presented)
        except Exception as error:
            if is_unavailable(error):
                raise _Unavailable(UNAVAILABLE_MESSAGE) from error
            raise
        if session is None:
            if token is None:
                # A stale cookie: anonymous, so that the page can send its user to sign in.
                return None
            raise AuthenticationError("invalid, expired or revoked token")
        return AuthCredentials(["authenticated"]), Viewer(session)


def _link_base_url(conn: HTTPConnection) -> str:
    """The connection's own address, for links: over a WebSocket (``ws://``, ``wss://``),
    the ``http://`` or ``https://`` address a browser fetches files from."""
    url = conn.base_url
    return str(url.replace(scheme={"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)))


class _Unavailable(AuthenticationError):
    """The token could not be checked: the database is unreachable."""


def _refuse(conn: HTTPConnection, error: AuthenticationError) -> Response:
    if isinstance(error, _Unavailable):
        return refusal(
            503,
            "UNAVAILABLE",
            str(error),
            conn.headers,
            **{"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return refusal(
        401, "UNAUTHENTICATED", str(error), conn.headers, **{"WWW-Authenticate": "Bearer"}
    )


class _BodyTooLarge(Exception):
    pass


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that fails once the body has passed ``limit`` bytes."""
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _BodyTooLarge
        return message

    return receive_capped


def _viewer(conn: HTTPConnection) -> User | None:
    return conn.user.user if isinstance(conn.user, Viewer) else None


async def _still_signed_in(context: Context) -> bool:
    """Re-reads the session of a WebSocket before each operation: a revoked or expired token,
    or a deactivated user, is refused even if the message to close the socket was lost; the
    viewer's role is the current one."""
    session = None if context.token_id is None else await session_by_id(token_id=context.token_id)
    if session is None:
        return False
    context.viewer = session.user
    return True


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and not await _still_signed_in(self.context):
            await self.websocket.close(SESSION_ENDED_CLOSE_CODE, "session ended: sign in again")
            return
        await super().handle_subscribe(message)


class _LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged and not await _still_signed_in(self.context):
            await self.websocket.close(SESSION_ENDED_CLOSE_CODE, "session ended: sign in again")
            return
        await super().handle_start(message)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler

    def __init__(
        self,
        *args: Any,
        attachments: AttachmentStore,
        public_url: str | None,
        throttle: Throttle,
        token_lifetime: timedelta,
        accounts: AccountOptions,
        max_body_bytes: int,
        assets: Assets,
        exports: Exports,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.multipart_uploads_enabled = True
        self.attachments = attachments
        self.public_url = public_url
        self.throttle = throttle
        self.token_lifetime = token_lifetime
        self.accounts = accounts
        self.exports = exports
        #: How to stop tracking each open WebSocket, by its ASGI scope.
        self._untrack: dict[int, Callable[[], None]] = {}
        self.max_body_bytes = max_body_bytes
        # A body that could not be a valid upload is cut off before it is all read.
        self.max_upload_bytes = attachments.per_request * attachments.max_bytes + MAX_FORM_FIELD
        self.assets = assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            try:
                with metrics.WEBSOCKETS_OPEN.track_inprogress():
                    await super().__call__(scope, receive, send)
            finally:
                untrack = self._untrack.pop(id(scope), None)
                if untrack is not None:
                    untrack()
            return
        upload = _is_multipart(scope)
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        request = Request(scope=scope, receive=_capped(receive, limit))
        try:
            response = await self._respond(request, upload=upload, limit=limit)
        except _BodyTooLarge:
            response = _too_large(request, limit)
        try:
            await response(scope, receive, send)
        finally:
            await request.close()

    async def _respond(self, request: Request, *, upload: bool, limit: int) -> Response:
        if request.method == "POST" and (refused := _unsupported_media(request)) is not None:
            return refused
        blocked = csrf_refusal(request)
        if blocked is not None:
            return blocked
        if request.method == "POST":
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                return _too_large(request, limit)
            if upload:
                if _viewer(request) is None:
                    return refusal(
                        401,
                        "UNAUTHENTICATED",
                        "sign in first: send Authorization: Bearer <token> with the upload",
                        request.headers,
                        **{"WWW-Authenticate": "Bearer", "Connection": "close"},
                    )
                # Parsed here, with our limits, before Strawberry reads the cached form.
                await request.form(
                    max_files=max(100, 2 * self.attachments.per_request),
                    max_part_size=MAX_FORM_FIELD,
                )
        try:
            return await self.run(request)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                # GraphQL over HTTP: a mutation over GET is refused with 405, never run.
                return refusal(405, "BAD_REQUEST", error.reason, request.headers, Allow="POST")
            return refusal(error.status_code, "BAD_REQUEST", error.reason, request.headers)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiated(request.headers)
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(processed):
            # The operation never ran: the GraphQL spec leaves ``data`` out.
            del processed["data"]
        return processed

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media = sub_response.media_type or JSON
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media
        response.headers["vary"] = "Accept"
        if not sub_response.status_code and isinstance(response_data, dict):
            response.status_code = status_code(response_data, media)
        return response

    def encode_json(self, data: object) -> str:
        # orjson: json.dumps was a twentieth of a dashboard page's CPU. Text, not bytes:
        # Strawberry sends bytes over a WebSocket as binary frames, which graphql-transport-ws
        # does not allow.
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            # What orjson refuses and JSON can still write: a lone surrogate of the client's own
            # input, quoted in an error; an integer past 64 bits.
            return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except UnicodeDecodeError as error:
            raise HTTPException(400, "Unable to parse request body: not UTF-8") from error
        except RecursionError as error:
            raise HTTPException(400, "Unable to parse request body: JSON too deep") from error

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(self.assets)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return Context(
            request=request,
            response=response,
            viewer=_viewer(request),
            attachments=self.attachments,
            base_url=self.public_url or _link_base_url(request),
            throttle=self.throttle,
            token_lifetime=self.token_lifetime,
            accounts=self.accounts,
            exports=self.exports,
            token_id=request.user.session.token_id if isinstance(request.user, Viewer) else None,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params
        headers = {str(k).lower(): v for k, v in params.items()} if isinstance(params, dict) else {}
        value = headers.get("authorization")
        try:
            token = bearer_token(value if isinstance(value, str) else None)
        except AuthenticationError:
            token = None
        websocket = context.request
        assert isinstance(websocket, WebSocket), "on_ws_connect is called for WebSockets"
        session = None if token is None else await session_for_token(token=token)
        if session is None and value is None and isinstance(websocket.user, Viewer):
            # The browser's session cookie, sent with the handshake from our own origin.
            session = websocket.user.session
        if session is None:
            raise ConnectionRejectionError({"reason": "send Authorization: Bearer <token>"})
        context.viewer = session.user
        context.token_id = session.token_id

        async def close() -> None:
            # Already closed by the client or the server: nothing to do.
            with contextlib.suppress(RuntimeError):
                await websocket.close(SESSION_ENDED_CLOSE_CODE, "session ended: sign in again")

        self._untrack[id(websocket.scope)] = bus.current().hub.sessions.add(
            user_id=session.user.id,
            token_id=session.token_id,
            close=close,
            expires_in=(session.expires_at - datetime.now(UTC)).total_seconds(),
        )
        return None


#: What a POST to /graphql may be encoded as: JSON, and multipart for uploads.
POST_MEDIA_TYPES = ("application/json", "multipart/form-data")


def _unsupported_media(request: Request) -> Response | None:
    """415 for a POST in a media type we do not read (or none): GraphQL over HTTP asks for "the
    appropriate 4xx", which RFC 9110 names, with ``Accept`` listing what would be read."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in POST_MEDIA_TYPES:
        return None
    return refusal(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        f"send the request as application/json (multipart/form-data for an upload), not "
        f"{media or 'without a Content-Type'}",
        request.headers,
        Accept=", ".join(POST_MEDIA_TYPES),
    )


def _is_multipart(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def _too_large(request: Request, limit: int) -> Response:
    # Closing the connection spares reading the rest of the body to reach the next request.
    return refusal(
        413,
        "REQUEST_TOO_LARGE",
        f"the request body is larger than {limit} bytes",
        request.headers,
        Connection="close",
    )


@asynccontextmanager
async def outbox_sender(settings: Settings) -> AsyncIterator[OutboxWorker]:
    """Runs an outbox worker in the background, woken by every commit of this process, and
    stops it cleanly (the message in hand is finished, the rest released) on the way out."""
    sender = OutboxWorker(settings, reminders=reminders.for_worker(settings))
    wake = asyncio.Event()
    waker = asyncio.create_task(wake_on_commits(wake), name="outbox-wake")
    running = asyncio.create_task(sender.run(wake), name="outbox-sender")
    try:
        yield sender
    finally:
        sender.stop()
        waker.cancel()
        await asyncio.gather(running, waker, return_exceptions=True)


#: Allocations between young-generation collections (Python's default is 700). A dashboard page
#: allocates ~100,000 objects that die with the request: at 700 the collector ran hundreds of
#: times per page, a quarter of the server's CPU under load.
GC_THRESHOLDS = (50_000, 20, 100)


def _settle_garbage_collector() -> None:
    """Once started: moves what lives as long as the process (modules, the schema, the pool) out
    of the collector's sight with ``gc.freeze``, and collects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def app_from_env() -> Starlette:
    """The app configured from the environment: the factory behind ``serve --workers``."""
    return create_app(Settings.from_env())


def create_app(
    settings: Settings,
    *,
    manage_database: bool = True,
    attachments: AttachmentStore | None = None,
    throttle: Throttle | None = None,
) -> Starlette:
    """The ASGI app; with ``manage_database`` its lifespan opens and closes the database, the
    live-update bus and the rate limits' store and, when ``outbox_in_serve`` is on, runs the
    email sender."""
    if refusals := settings.production_refusals():
        raise RuntimeError("refusing to serve in production: " + "; ".join(refusals))
    store = attachments or AttachmentStore.from_settings(settings)
    limits = throttle or Throttle.from_settings(settings)
    accounts.hashing.resize(settings.password_hashes_at_once)
    tracer = tracing.tracer_provider(settings)
    assets = Assets.load()
    exports = Exports.from_settings(settings)
    graphql = GraphQLView(
        build_schema(settings, tracer_provider=tracer),
        graphql_ide="graphiql" if settings.graphiql else None,
        keep_alive=True,
        keep_alive_interval=15,
        allowed_origins=settings.allowed_origins,
        attachments=store,
        public_url=settings.public_url,
        throttle=limits,
        token_lifetime=timedelta(seconds=settings.token_lifetime_seconds),
        accounts=AccountOptions(
            default_time_zone=settings.default_time_zone,
            reset_signer=ResetSigner(secret_key=settings.secret_key.get_secret_value()),
            reset_lifetime=timedelta(seconds=settings.password_reset_lifetime_seconds),
        ),
        max_body_bytes=settings.max_body_bytes,
        assets=assets,
        exports=exports,
    )

    async def attachment(request: Request) -> Response:
        return await download(request, store, _viewer(request))

    async def session(request: Request) -> Response:
        if request.method == "DELETE":
            viewer = request.user
            return await sign_out(
                request, token_id=viewer.session.token_id if isinstance(viewer, Viewer) else None
            )
        return await sign_in(
            request,
            throttle=limits,
            lifetime=timedelta(seconds=settings.token_lifetime_seconds),
            secure=(settings.public_url or str(request.base_url)).startswith("https:"),
        )

    async def export(request: Request) -> Response:
        return await download_export(request, exports, limits, _viewer(request))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with _resources(app):
                yield
        finally:
            if tracer is not None:
                # Sends the spans still batched.
                await asyncio.to_thread(tracer.shutdown)

    @asynccontextmanager
    async def _resources(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        async with RegisterTortoise(app, config=tortoise_config(settings)):
            live_bus = bus.for_database(settings.database_url, settings.redis_url)
            bus.use(live_bus)
            await live_bus.start()
            try:
                _settle_garbage_collector()
                if not settings.outbox_in_serve:
                    yield
                    return
                async with outbox_sender(settings):
                    yield
            finally:
                await live_bus.stop()
                await limits.close()

    return Starlette(
        debug=settings.debug,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/attachments/{attachment_id:int}", attachment),
            Route(EXPORT_PATH, export),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", probes.health),
            Route("/readyz", probes.ready),
            Route("/metrics", probes.metrics_endpoint(settings.metrics_token)),
            Route("/session", session, methods=["POST", "DELETE"]),
            *web_routes(assets),
        ],
        middleware=[
            Middleware(logs.RequestId),
            Middleware(OutageAnswers),
            Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(), on_error=_refuse),
        ],
        lifespan=lifespan,
    )
