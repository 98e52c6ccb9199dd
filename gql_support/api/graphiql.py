"""The GraphiQL page: Strawberry's, adjusted so that it keeps no token, and served with a
Content-Security-Policy that allows exactly its CDN files and its one inline script.

Strawberry's page takes request headers from the URL (``?headers=``: a link could make a
browser send a stranger's token) and saves them in localStorage (any script on the origin, or
the next user of the machine, reads the token). Both are turned off here; the page fails to
load, rather than run unadjusted, if Strawberry's page changes."""

from __future__ import annotations

import base64
import hashlib
import re

from strawberry.http.ides import get_graphql_ide_html

#: What to change in Strawberry's page, and into what.
_ADJUSTMENTS = {
    "React.useState(parameters.headers)": "React.useState(undefined)",
    "shouldPersistHeaders: true": "shouldPersistHeaders: false",
}
_SCRIPT_SRC = re.compile(r'<script\s[^>]*\bsrc="([^"]+)"')
_STYLESHEET = re.compile(
    r'<link\s[^>]*rel="stylesheet"[^>]*\bhref="([^"]+)"|'
    r'<link\s[^>]*\bhref="([^"]+)"[^>]*rel="stylesheet"'
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
#: Headers for every HTML page: none may be framed (clickjacking) or sniffed.
HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def graphiql_page() -> tuple[str, dict[str, str]]:
    """The adjusted page and the headers to serve it with."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    for before, after in _ADJUSTMENTS.items():
        if html.count(before) != 1:
            raise RuntimeError(f"Strawberry's GraphiQL page changed: {before!r} not found once")
        html = html.replace(before, after)
    scripts = _SCRIPT_SRC.findall(html)
    styles = [a or b for a, b in _STYLESHEET.findall(html)]
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join([*scripts, *hashes]),
            # GraphiQL's editors set inline styles.
            "style-src 'unsafe-inline' " + " ".join(styles),
            "img-src 'self' data:",
            "font-src data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return html, {**HTML_HEADERS, "Content-Security-Policy": policy}
