"""The HTTP side of attachments: the CSRF guard on non-JSON GraphQL requests, the multipart
limits, and the download route.

**CSRF.** Browsers send ``multipart/form-data`` (and the other "simple" content types) across
origins without a CORS preflight, and Strawberry would run such a request as a mutation. As Apollo
Server does, a POST to ``/graphql`` that is not ``application/json`` is refused with 400 unless it
carries ``Apollo-Require-Preflight`` or ``X-Apollo-Operation-Name`` (any non-empty value): a page
on another origin cannot add those headers without a preflight, which this server never grants.

**Downloads.** ``GET /attachments/{id}`` serves the bytes to a signed-in user, with a Bearer
token, or through a signed link (``?user=&expires=&signature=``, what ``Attachment.url`` gives)
so an ``<a href>`` in a browser or an email works. The file always comes as a download
(``Content-Disposition: attachment``), with the type the server determined and ``nosniff``.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gql_support.accounts.links import UserLink
from gql_support.accounts.models import User
from gql_support.attachments.service import AttachmentStore
from gql_support.errors import DomainError, Forbidden

PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
#: Room for the ``operations`` and ``map`` parts of a multipart request (a 1 MiB comment,
#: JSON-escaped, fits).
MAX_FORM_FIELD = 8 * 1024 * 1024


def csrf_refusal(request: Request) -> Response | None:
    """A 400 for a POST that a browser could send from another origin without a preflight."""
    if request.method != "POST":
        return None
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return None
    if any(request.headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
        return None
    return PlainTextResponse(
        "This request has been blocked as a possible Cross-Site Request Forgery (CSRF). "
        "Send it as application/json, or with a non-empty Apollo-Require-Preflight or "
        "X-Apollo-Operation-Name header (a file upload needs one of these headers).",
        status_code=400,
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with the name, as quoted ASCII for old clients and RFC 5987 UTF-8."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;%' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _signed_link(params: QueryParams) -> UserLink | None:
    try:
        return UserLink(
            user_id=int(params["user"]),
            expires=int(params["expires"]),
            signature=params["signature"],
        )
    except (KeyError, ValueError):
        return None


def _error(status_code: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status_code)


async def download(request: Request, store: AttachmentStore, viewer: User | None) -> Response:
    """Streams an attachment to a user with a token or a signed link for it."""
    attachment_id = int(request.path_params["attachment_id"])
    try:
        if viewer is None:
            link = _signed_link(request.query_params)
            if link is None:
                return JSONResponse(
                    {"error": "send Authorization: Bearer <token>, or use a signed link"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            viewer = await store.links.user_of(attachment_id, link)
        attachment, chunks = await store.open_download(attachment_id=attachment_id, viewer=viewer)
    except Forbidden as error:
        return _error(403, error.message)
    except DomainError as error:
        return _error(404, error.message)
    return StreamingResponse(
        chunks,
        media_type=attachment.content_type,
        headers={
            "Content-Length": str(attachment.size),
            "Content-Disposition": content_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
