"""Account operations: creating users, checking passwords, issuing and resolving API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gql_support.accounts.models import ApiToken, Role, User
from gql_support.errors import InvalidCredentials, InvalidInput
from gql_support.text import check_characters

TOKEN_PREFIX = "gqls_"
MAX_NAME = 200
MIN_PASSWORD = 8
MAX_USERS_PAGE = 100
#: The longest address SMTP can carry (RFC 5321's 256-octet path, less its angle brackets).
MAX_EMAIL = 254

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as one for a known email.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    """The stored form of an email: trimmed and lower-cased."""
    return email.strip().lower()


def _checked_email(email: str, *, field: list[str]) -> str:
    """The stored form of an email, refused unless it looks like an address."""
    email = normalize_email(check_characters(email, field=field))
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        shown = email if len(email) <= MAX_EMAIL else email[:40] + "…"
        raise InvalidInput(f"{shown!r} is not an email address", field=field)
    return email


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    *,
    email: str,
    name: str,
    role: Role = Role.USER,
    locale: str = "en",
    password: str | None = None,
) -> User:
    """Creates an active user; the email must be new (case-insensitively)."""
    email = _checked_email(email, field=["email"])
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters", field=["name"])
    if not _LOCALE.match(locale):
        raise InvalidInput(f"{locale!r} is not a language tag such as en or fr", field=["locale"])
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD} characters", field=["password"]
        )
    password_hash = (
        await anyio.to_thread.run_sync(_hasher.hash, password) if password is not None else None
    )
    async with in_transaction():
        if await User.filter(email=email).exists():
            raise InvalidInput(f"a user with email {email} already exists", field=["email"])
        return await User.create(
            email=email, name=name, role=role, locale=locale, password_hash=password_hash
        )


async def issue_token(*, user: User) -> str:
    """Creates a new API token for the user and returns it; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, token_hash=_hash_token(token))
    return token


async def revoke_token(*, token: str) -> bool:
    """Revokes one token; returns whether it was live."""
    revoked = await ApiToken.filter(token_hash=_hash_token(token), revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    return revoked > 0


async def revoke_user_tokens(*, user: User) -> int:
    """Revokes every live token of the user; returns how many."""
    return await ApiToken.filter(user_id=user.id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )


async def user_for_token(*, token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    api_token = (
        await ApiToken.filter(token_hash=_hash_token(token), revoked_at=None)
        .select_related("user")
        .first()
    )
    if api_token is None or not api_token.user.is_active:
        return None
    return api_token.user


async def login(*, email: str, password: str) -> tuple[User, str]:
    """Checks an email and password and issues a token for that user."""
    email = _checked_email(email, field=["input", "email"])
    check_characters(password, field=["input", "password"])
    user = await User.get_or_none(email=email, is_active=True)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        await anyio.to_thread.run_sync(_hasher.verify, stored, password)
    except VerificationError:
        user = None
    if user is None or not user.password_hash:
        raise InvalidCredentials("wrong email or password")
    return user, await issue_token(user=user)


async def get_user_by_email(*, email: str) -> User | None:
    """The user with this email (any case), or None."""
    return await User.get_or_none(email=normalize_email(email))


async def list_users(
    *, roles: Iterable[Role] | None = None, search: str | None = None, first: int | None = None
) -> list[User]:
    """Active users for the pickers, by name, optionally by role and a name/email fragment."""
    if first is not None and first < 0:
        raise InvalidInput("first must not be negative", field=["first"])
    query = User.filter(is_active=True)
    if roles is not None:
        query = query.filter(role__in=list(roles))
    fragment = check_characters(search or "", field=["search"]).strip()
    if len(fragment) > MAX_EMAIL:
        # Longer than any email or name: it can match nobody.
        raise InvalidInput(f"search is longer than {MAX_EMAIL} characters", field=["search"])
    if fragment:
        query = query.filter(Q(name__icontains=fragment) | Q(email__icontains=fragment))
    limit = MAX_USERS_PAGE if first is None else min(first, MAX_USERS_PAGE)
    return await query.order_by("name", "id").limit(limit)


async def users_by_ids(ids: Sequence[int]) -> dict[int, User]:
    """The users with these ids, by id; missing ids are absent."""
    return {user.id: user for user in await User.filter(id__in=list(set(ids)))}
