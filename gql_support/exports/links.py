"""Download links for exports: a browser's ``<a href>`` carries no Bearer token, so the link
itself says who it is for and until when, and a MAC over the exact view proves the server made
it. Changing one character of the view, the user or the expiry breaks the MAC."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from gql_support.accounts.models import User
from gql_support.errors import Forbidden
from gql_support.exports.view import ExportView

#: Where exports are served, below the server's address.
PATH = "/exports/incidents"


class LinkExpired(Forbidden):
    """A genuine link past its expiry: the client should ask for a new one."""


@dataclass(frozen=True, kw_only=True)
class ExportLink:
    """The query of a signed export link."""

    view: str
    user_id: int
    expires: int
    signature: str


class ExportLinks:
    """Makes and checks export links with a key derived from the server's secret."""

    def __init__(self, *, secret_key: str, ttl: int) -> None:
        self.ttl = ttl
        self._key = hashlib.sha256(b"gql-support export links\0" + secret_key.encode()).digest()

    def _sign(self, *, view: str, user_id: int, expires: int) -> str:
        message = f"{user_id}:{expires}:{view}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def make(self, view: ExportView, *, user_id: int, now: float | None = None) -> ExportLink:
        """A link to ``view`` for ``user_id``, valid ``ttl`` seconds from ``now``."""
        param = view.to_param()
        expires = int((time.time() if now is None else now) + self.ttl)
        signature = self._sign(view=param, user_id=user_id, expires=expires)
        return ExportLink(view=param, user_id=user_id, expires=expires, signature=signature)

    def url(self, link: ExportLink, *, base_url: str) -> str:
        """The absolute address of the link."""
        query = urlencode(
            {
                "view": link.view,
                "user": link.user_id,
                "expires": link.expires,
                "signature": link.signature,
            }
        )
        return f"{base_url.rstrip('/')}{PATH}?{query}"

    @staticmethod
    def expires_at(link: ExportLink) -> datetime:
        return datetime.fromtimestamp(link.expires, UTC)

    async def user_of(self, link: ExportLink, *, now: float | None = None) -> User:
        """The active user the link was made for; Forbidden if it is forged or their account
        is gone or inactive, LinkExpired if it is genuine but too old."""
        expected = self._sign(view=link.view, user_id=link.user_id, expires=link.expires)
        if not hmac.compare_digest(expected, link.signature):
            raise Forbidden("this export link is not valid")
        if link.expires < (time.time() if now is None else now):
            raise LinkExpired("this export link has expired: export again for a new one")
        user = await User.get_or_none(id=link.user_id)
        if user is None or not user.is_active:
            raise Forbidden("this export link is not valid")
        return user
