"""The web desk's routes: its pages, and the static files under one fingerprinted prefix.

Every file under ``static/`` is served at ``/assets/<version>/<path>``, where ``version`` is a
digest of all of them: the URLs change whenever any file does, so browsers may keep them for a
year (``immutable``), while the pages themselves are revalidated on every visit. Relative
imports between the scripts keep working under the one prefix.

Every page is served with a Content-Security-Policy that lets only our own origin provide
scripts, styles, fonts and connections (``'self'`` covers the page's own WebSocket), no inline
script at all, and no framing."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gql_support.accounts.reset import RESET_PATH

#: Headers for every HTML page: none may be framed (clickjacking) or sniffed.
HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
#: GraphiQL's editors set inline styles, and its stylesheet carries its fonts as data: URLs.
_GRAPHIQL_POLICY = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
]
_ASSETS_MARK = "{{ASSETS}}"
_SCRIPT_MARK = "{{SCRIPT}}"
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Assets:
    """The static files, read once, and the version that names them all."""

    files: dict[str, bytes]
    version: str

    @classmethod
    def load(cls) -> Assets:
        root = resources.files(__package__) / "static"
        files: dict[str, bytes] = {}
        pending = [(root, PurePosixPath())]
        while pending:
            folder, prefix = pending.pop()
            for entry in folder.iterdir():
                if entry.is_dir():
                    pending.append((entry, prefix / entry.name))
                elif not entry.name.startswith("."):
                    files[str(prefix / entry.name)] = entry.read_bytes()
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        return cls(files=files, version=digest.hexdigest()[:12])

    @property
    def prefix(self) -> str:
        return f"/assets/{self.version}"

    async def serve(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = self.files.get(path)
        if request.path_params["version"] != self.version or body is None:
            return PlainTextResponse("not found", status_code=404)
        media_type = (
            "text/javascript" if path.endswith(".js") else mimetypes.guess_type(path)[0]
        ) or "application/octet-stream"
        headers = {"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff"}
        if path.startswith("vendor/") and "LICENSE" in path:
            media_type = "text/plain"
        return Response(body, media_type=media_type, headers=headers)


def _page(name: str, assets: Assets, *, script: str = "") -> str:
    html = (resources.files(__package__) / "pages" / f"{name}.html").read_text("utf-8")
    return html.replace(_ASSETS_MARK, assets.prefix).replace(_SCRIPT_MARK, script)


def _html(body: str, policy: list[str]) -> HTMLResponse:
    headers = {**HTML_HEADERS, "Content-Security-Policy": "; ".join(policy)}
    return HTMLResponse(body, headers=headers)


def graphiql_page(assets: Assets) -> HTMLResponse:
    """GraphiQL, all of it from our own origin; it keeps no headers (so no token) anywhere."""
    return _html(_page("graphiql", assets), _GRAPHIQL_POLICY)


def web_routes(assets: Assets) -> list[BaseRoute]:
    """The pages and the static files."""

    def page(script: str) -> Callable[[Request], Awaitable[Response]]:
        """A desk page: the one HTML shell, running the module ``static/<script>.js``."""
        body = _page("desk", assets, script=script)

        async def endpoint(request: Request) -> Response:
            return _html(body, _POLICY)

        return endpoint

    return [
        Route("/", page("dashboard")),
        Route("/incidents/{number:int}", page("incident")),
        Route("/report", page("report")),
        Route("/sign-in", page("sign-in")),
        Route(RESET_PATH, page("reset-password")),
        Route("/assets/{version}/{path:path}", assets.serve),
    ]
