"""The browser's session: the web desk signs in at ``POST /session`` and holds its API token in
an ``HttpOnly``, ``SameSite=Strict`` cookie that no page script can read, so a script injected
into a page could act while the page is open but could not carry the token away.

A cookie goes with every request the browser makes to the server, including those another
site's page makes it send, so the API trusts the cookie only where such a request is refused
by the rules it already has (see ``uploads.csrf_refusal``):

- a ``POST``: as ``application/json`` (another origin needs a CORS preflight for it, and this
  server grants none), or a multipart upload with ``Apollo-Require-Preflight``; any other
  ``POST`` to ``/graphql`` is refused before it runs;
- a ``DELETE /session`` (sign out): a preflighted method as well;
- a WebSocket: never preflighted, but Strawberry refuses the handshake (403) from a browser
  page on any origin but the server's own and those of ``GQL_SUPPORT_ALLOWED_ORIGINS``.

A ``GET`` never counts the cookie: queries over ``GET`` and downloads keep needing a token or a
signed link. An ``Authorization`` header, when sent, always wins over the cookie.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from gql_support.accounts import service as accounts
from gql_support.accounts.models import User
from gql_support.accounts.throttle import Throttle
from gql_support.errors import DomainError, InvalidInput, RateLimited

COOKIE = "gqls_session"
#: Methods a page on another origin cannot make a browser send without a preflight (or,
#: for POST, that ``csrf_refusal`` refuses unless they are JSON or carry a preflight header).
_GUARDED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookie_token(conn: HTTPConnection) -> str | None:
    """The session cookie's token, where the CSRF rules let it count (see the module)."""
    token = conn.cookies.get(COOKIE)
    if not token:
        return None
    if conn.scope["type"] == "websocket":
        return token
    return token if conn.scope.get("method") in _GUARDED_METHODS else None


def _refusal(error: DomainError, status_code: int) -> Response:
    body: dict[str, Any] = {"code": error.code.value, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    if isinstance(error, RateLimited):
        body["retryAfter"] = error.retry_after
    return JSONResponse({"errors": [body]}, status_code=status_code)


def _viewer_json(user: User) -> dict[str, str]:
    return {"name": user.name, "email": user.email, "role": user.role.value, "locale": user.locale}


async def sign_in(
    request: Request, *, throttle: Throttle, lifetime: timedelta, secure: bool
) -> Response:
    """``POST /session`` with ``{"email", "password"}`` as JSON: sets the session cookie."""
    if request.headers.get("content-type", "").split(";", 1)[0].strip() != "application/json":
        return _refusal(InvalidInput("send the email and password as application/json"), 415)
    try:
        body = await request.json()
    except ValueError:
        body = None
    email, password = (
        (body.get("email"), body.get("password")) if isinstance(body, dict) else (None, None)
    )
    if not isinstance(email, str) or not isinstance(password, str):
        return _refusal(InvalidInput("send an email and a password", field=["email"]), 400)
    client = request.client
    try:
        user, token = await accounts.login(
            email=email,
            password=password,
            address=None if client is None else client.host,
            throttle=throttle,
            lifetime=lifetime,
        )
    except RateLimited as error:
        return _refusal(error, 429)
    except DomainError as error:
        # The service names its fields as the login mutation's input; the form has no "input".
        error.field = None if error.field is None else error.field[-1:]
        return _refusal(error, 400 if error.field else 401)
    response = JSONResponse({"viewer": _viewer_json(user)})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def sign_out(request: Request, *, token_id: int | None) -> Response:
    """``DELETE /session``: revokes the token (its sockets close) and forgets the cookie."""
    if token_id is not None:
        await accounts.logout(token_id=token_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
