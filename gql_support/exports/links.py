"""Download links for exports: a browser's ``<a href>`` carries no Bearer token, so the link
itself says who it is for and until when, signed over the exact view (``accounts.links``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from gql_support.accounts.links import UserLink, UserLinks
from gql_support.accounts.models import User
from gql_support.exports.view import ExportView

#: Where exports are served, below the server's address.
PATH = "/exports/incidents"


@dataclass(frozen=True, kw_only=True)
class ExportLink(UserLink):
    """The query of a signed export link."""

    view: str


class ExportLinks:
    """Makes and checks export links with a key derived from the server's secret."""

    def __init__(self, *, secret_key: str, ttl: int) -> None:
        self._links = UserLinks(
            secret_key=secret_key,
            purpose="export links",
            ttl=ttl,
            noun="export link",
            renew="export again for a new one",
        )

    def make(self, view: ExportView, *, user_id: int, now: float | None = None) -> ExportLink:
        """A link to ``view`` for ``user_id``, valid from ``now`` for the links' lifetime."""
        param = view.to_param()
        link = self._links.make(param, user_id=user_id, now=now)
        return ExportLink(
            view=param, user_id=link.user_id, expires=link.expires, signature=link.signature
        )

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

    async def user_of(self, link: ExportLink) -> User:
        """The active user the link was made for (see ``UserLinks.user_of``)."""
        return await self._links.user_of(link.view, link)
