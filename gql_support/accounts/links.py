"""Signatures under the server's secret key, and the signed links that stand for a user where
no token can go: a browser's ``<a href>`` (a download) or an email (a file, a password reset).

Each purpose signs with its own key, derived from the secret, so a signature made for one
purpose means nothing for another. A user link names the subject (an attachment, an export
view), the user and the expiry; changing one character of any of them breaks the MAC."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from gql_support.accounts.models import User
from gql_support.errors import Forbidden


class LinkExpired(Forbidden):
    """A genuine link past its expiry: the client should ask for a new one."""


class Signer:
    """HMAC-SHA256 of colon-joined parts, under the key of one purpose."""

    def __init__(self, *, secret_key: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"gql-support {purpose}\0{secret_key}".encode()).digest()

    def sign(self, *parts: object) -> str:
        message = ":".join(str(part) for part in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, signature: str, *parts: object) -> bool:
        return hmac.compare_digest(self.sign(*parts), signature)


@dataclass(frozen=True, kw_only=True)
class UserLink:
    """What a signed link carries besides its subject: who it is for, until when, and the MAC."""

    user_id: int
    expires: int
    signature: str


class UserLinks:
    """Makes and checks the links of one purpose; ``noun`` and ``renew`` word its refusals."""

    def __init__(self, *, secret_key: str, purpose: str, ttl: int, noun: str, renew: str) -> None:
        self._signer = Signer(secret_key=secret_key, purpose=purpose)
        self.ttl = ttl
        self._noun = noun
        self._renew = renew

    def make(
        self, subject: object, *, user_id: int, ttl: int | None = None, now: float | None = None
    ) -> UserLink:
        """A link to ``subject`` for ``user_id``, valid ``ttl`` seconds (default: the links')."""
        expires = int((time.time() if now is None else now) + (ttl or self.ttl))
        signature = self._signer.sign(subject, user_id, expires)
        return UserLink(user_id=user_id, expires=expires, signature=signature)

    async def user_of(self, subject: object, link: UserLink) -> User:
        """The active user the link was made for; Forbidden if it is forged or their account is
        gone or inactive, LinkExpired if it is genuine but too old."""
        if not self._signer.verify(link.signature, subject, link.user_id, link.expires):
            raise Forbidden(f"this {self._noun} is not valid")
        if link.expires < time.time():
            raise LinkExpired(f"this {self._noun} has expired: {self._renew}")
        user = await User.get_or_none(id=link.user_id)
        if user is None or not user.is_active:
            raise Forbidden(f"this {self._noun} is not valid")
        return user
