"""Password reset by email. ``request_password_reset`` answers the same whether or not the
address is a user's (and is rate-limited per address and per client), and for an active user
queues an email, sent after the commit by the outbox, with a one-time link
``<PUBLIC_URL>/reset-password?token=...`` valid for a short while. ``reset_password`` consumes
the token, sets the new password and revokes every token of the user.

The token is a random salt signed with the server's secret key. The database keeps the salt
and the token's SHA-256, the outbox row only the salt: the link is signed again when the email
is rendered, so nothing at rest is a usable link."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from gql_support.accounts.links import Signer
from gql_support.accounts.models import ApiToken, PasswordReset, User
from gql_support.accounts.passwords import check_new_password
from gql_support.accounts.service import checked_email, end_sessions, hash_password, void_resets
from gql_support.accounts.throttle import Throttle
from gql_support.db import transaction
from gql_support.errors import InvalidToken
from gql_support.notify.password_reset import queue_reset_email
from gql_support.text import check_characters

#: The path of the web page that reads the token and asks for the new password.
RESET_PATH = "/reset-password"
_LONGEST_TOKEN = 200


class ResetSigner:
    """Makes reset tokens with the server's secret key."""

    def __init__(self, *, secret_key: str) -> None:
        self._signer = Signer(secret_key=secret_key, purpose="password reset")

    def token(self, salt: str) -> str:
        """The token sent for a reset row's salt."""
        return f"{salt}.{self._signer.sign(salt)}"

    def link(self, public_url: str, salt: str) -> str:
        """The link of the reset email."""
        return f"{public_url.rstrip('/')}{RESET_PATH}?token={self.token(salt)}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_password_reset(
    *,
    email: str,
    address: str | None,
    throttle: Throttle,
    signer: ResetSigner,
    lifetime: timedelta,
) -> None:
    """Queues a reset email if an active user has this address; says nothing either way."""
    email = checked_email(email, field=["input", "email"])
    await throttle.spend_password_reset(email=email, address=address)
    user = await User.get_or_none(email=email, is_active=True)
    if user is None:
        return
    salt = secrets.token_hex(16)
    now = datetime.now(UTC)
    async with transaction():
        # Only the newest link works.
        await void_resets(user.id)
        await PasswordReset.create(
            user=user,
            salt=salt,
            token_hash=_hash(signer.token(salt)),
            expires_at=now + lifetime,
        )
        await queue_reset_email(user=user, salt=salt, lifetime=lifetime)


async def reset_password(*, token: str, new_password: str) -> User:
    """Sets a new password with a reset token (once, before it expires); every token of the
    user is revoked and their open connections closed."""
    check_characters(token, field=["input", "token"])
    check_new_password(new_password, field=["input", "newPassword"])
    refused = InvalidToken(
        "this reset link is unknown, used or expired: ask for a new one", field=["input", "token"]
    )
    if len(token) > _LONGEST_TOKEN:
        raise refused
    now = datetime.now(UTC)
    reset = await PasswordReset.filter(
        token_hash=_hash(token), used_at=None, expires_at__gt=now, user__is_active=True
    ).first()
    # Looked up before hashing: a made-up token costs no argon2 hash.
    if reset is None:
        raise refused
    password_hash = await hash_password(new_password)
    async with transaction():
        # Used up by a conditional update: of two requests with one token, one wins.
        if not await PasswordReset.filter(id=reset.id, used_at=None, expires_at__gt=now).update(
            used_at=now
        ):
            raise refused
        user = await User.select_for_update().get(id=reset.user_id)
        user.password_hash = password_hash
        await user.save(update_fields=["password_hash"])
        await void_resets(user.id)
        await ApiToken.filter(user_id=user.id, revoked_at=None).update(revoked_at=now)
    await end_sessions(user_id=user.id)
    return user
