"""The HTTP side of exports: ``GET /exports/incidents?view=…`` streams the dashboard's list as a
file (what ``exportIncidents`` links to).

**Who.** A request with ``Authorization: Bearer`` is its token's user, as on ``/graphql``; a
browser following the link has no token, so the link is signed for one user (``user``,
``expires``, ``signature`` over the exact ``view``). Both may come together: the link must then
be the token user's own. The user sees what the ``incidents`` query would show them.

    no token and no signature              401 (WWW-Authenticate: Bearer)
    bad token                              401 (the authentication middleware)
    forged or altered link, inactive user  403
    someone else's link                    403
    genuine link past its expiry           410: export again for a fresh link
    view missing or malformed              400
    view over GQL_SUPPORT_EXPORT_MAX_ROWS  422 (code TOO_LARGE)
    over the user's export budget          429 with Retry-After (shared by every process)
    GQL_SUPPORT_EXPORTS_AT_ONCE running    503 with Retry-After (per process: an export holds
                                           a database connection and a core while it runs)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gql_support.accounts.links import LinkExpired
from gql_support.accounts.models import User
from gql_support.accounts.throttle import Throttle
from gql_support.api.uploads import content_disposition
from gql_support.errors import DomainError, Forbidden, InvalidInput, RateLimited, TooLarge
from gql_support.exports.links import ExportLink, ExportLinks
from gql_support.exports.service import check_size, export_file, filename
from gql_support.exports.view import ExportView
from gql_support.settings import Settings

#: Seconds a client refused for lack of a free slot is told to wait.
BUSY_RETRY_AFTER = 30


class ExportSlots:
    """The exports this process is writing, at most ``limit`` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0

    def take(self) -> bool:
        if self.busy >= self.limit:
            return False
        self.busy += 1
        return True

    def give(self) -> None:
        self.busy -= 1


@dataclass(frozen=True, kw_only=True)
class Exports:
    """What the export field and route share: the link signer and the bounds."""

    links: ExportLinks
    max_rows: int
    slots: ExportSlots

    @classmethod
    def from_settings(cls, settings: Settings) -> Exports:
        return cls(
            links=ExportLinks(
                secret_key=settings.secret_key.get_secret_value(), ttl=settings.export_link_ttl
            ),
            max_rows=settings.export_max_rows,
            slots=ExportSlots(settings.exports_at_once),
        )


def _error(status_code: int, code: str, message: str, **headers: str) -> Response:
    return JSONResponse({"error": message, "code": code}, status_code=status_code, headers=headers)


def _refusal(status_code: int, error: DomainError, **headers: str) -> Response:
    return _error(status_code, error.code.value, error.message, **headers)


def _link(params: QueryParams) -> ExportLink | None:
    """The signed link the query carries; None when it carries none."""
    if not any(name in params for name in ("user", "expires", "signature")):
        return None
    try:
        return ExportLink(
            view=params.get("view", ""),
            user_id=int(params["user"]),
            expires=int(params["expires"]),
            signature=params["signature"],
        )
    except (KeyError, ValueError):
        raise Forbidden("this export link is not valid") from None


async def _user(params: QueryParams, links: ExportLinks, viewer: User | None) -> User | None:
    """Who asks: the token's user or the link's (the same when both are given)."""
    link = _link(params)
    if link is None:
        return viewer
    linked = await links.user_of(link)
    if viewer is not None and viewer.id != linked.id:
        raise Forbidden("this export link was made for someone else")
    return linked


class _Export(StreamingResponse):
    """The file's response; whether it ends, fails or the client leaves, its slot is given back
    and its stream closed (removing its temporary files)."""

    def __init__(self, stream: AsyncIterator[bytes], slots: ExportSlots, **kwargs: object) -> None:
        super().__init__(stream, **kwargs)  # type: ignore[arg-type]
        self._stream = stream
        self._slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.give()
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def download_export(
    request: Request, exports: Exports, throttle: Throttle, viewer: User | None
) -> Response:
    """Streams the export the query names to the user the token or the link stands for."""
    params = request.query_params
    try:
        user = await _user(params, exports.links, viewer)
        if user is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "send Authorization: Bearer <token>, or use a link from exportIncidents",
                **{"WWW-Authenticate": "Bearer"},
            )
        if "view" not in params:
            raise InvalidInput("view is missing: use a link from exportIncidents", field=["view"])
        view = ExportView.from_param(params["view"])
        await check_size(view, max_rows=exports.max_rows)
    except LinkExpired as error:
        return _refusal(410, error)
    except Forbidden as error:
        return _refusal(403, error)
    except TooLarge as error:
        return _refusal(422, error)
    except InvalidInput as error:
        return _refusal(400, error)
    if not exports.slots.take():
        return _error(
            503,
            "BUSY",
            f"{exports.slots.limit} exports are being written: try again shortly",
            **{"Retry-After": str(BUSY_RETRY_AFTER)},
        )
    try:
        await throttle.spend_export(user_id=user.id)
    except RateLimited as error:
        exports.slots.give()
        return _refusal(429, error, **{"Retry-After": str(error.retry_after)})
    now = datetime.now(UTC)
    return _Export(
        export_file(view, max_rows=exports.max_rows, now=now),
        exports.slots,
        media_type=view.format.media_type,
        headers={
            "Content-Disposition": content_disposition(filename(view, now=now)),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
