"""Account operations: creating and changing users, checking passwords, issuing, resolving and
revoking API tokens (sessions). Ending a session closes its open connections on every process,
through the live bus, after the commit."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gql_support.accounts.models import ApiToken, Role, User
from gql_support.accounts.throttle import Throttle
from gql_support.accounts.timezones import DEFAULT_TIME_ZONE, is_time_zone
from gql_support.errors import Forbidden, InvalidCredentials, InvalidInput, NotFound
from gql_support.live import bus
from gql_support.text import check_characters

TOKEN_PREFIX = "gqls_"
MAX_NAME = 200
MIN_PASSWORD = 8
MAX_USERS_PAGE = 100
#: The longest address SMTP can carry (RFC 5321's 256-octet path, less its angle brackets).
MAX_EMAIL = 254
TOKEN_LIFETIME = timedelta(days=30)

T = TypeVar("T")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes, 4 lanes) are
# kept: a leaked table stays as hard to crack as ever. Memory is bounded by hashing fewer at
# once instead (see HashingPool).
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as one for a known email.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class HashingPool:
    """Runs password hashes in worker threads, at most ``limit`` at once, so a crowd of logins
    queues instead of taking 64 MiB each; ``peak`` is the most that ever ran together."""

    def __init__(self, limit: int) -> None:
        self.limiter = anyio.CapacityLimiter(limit)
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def resize(self, limit: int) -> None:
        """Sets how many hashes may run at once (from the settings, at start-up)."""
        self.limiter.total_tokens = limit

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Runs ``work(*args)`` in a worker thread once a place is free."""
        return await anyio.to_thread.run_sync(self._counted, work, *args, limiter=self.limiter)

    def _counted(self, work: Callable[..., T], *args: object) -> T:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return work(*args)
        finally:
            with self._lock:
                self.running -= 1


hashing = HashingPool(2)


@dataclass(frozen=True)
class Session:
    """A live token: whose it is, its id, and when it expires."""

    token_id: int
    user: User
    expires_at: datetime


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
    time_zone: str = DEFAULT_TIME_ZONE,
    password: str | None = None,
) -> User:
    """Creates an active user; the email must be new (case-insensitively)."""
    email = _checked_email(email, field=["input", "email"])
    name = name.strip()
    _check_name(name)
    _check_locale(locale)
    _check_time_zone(time_zone)
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"password must be at least {MIN_PASSWORD} characters", field=["input", "password"]
        )
    password_hash = await hashing.run(_hasher.hash, password) if password is not None else None
    async with in_transaction():
        if await User.filter(email=email).exists():
            raise InvalidInput(
                f"a user with email {email} already exists", field=["input", "email"]
            )
        return await User.create(
            email=email,
            name=name,
            role=role,
            locale=locale,
            time_zone=time_zone,
            password_hash=password_hash,
        )


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters", field=["input", "name"])


def _check_locale(locale: str) -> None:
    if not _LOCALE.match(locale):
        raise InvalidInput(
            f"{locale!r} is not a language tag such as en or fr", field=["input", "locale"]
        )


def _check_time_zone(time_zone: str) -> None:
    if not is_time_zone(time_zone):
        shown = time_zone if len(time_zone) <= 64 else time_zone[:40] + "…"
        raise InvalidInput(
            f"{shown!r} is not an IANA time zone name such as Europe/Paris",
            field=["input", "timeZone"],
        )


async def issue_token(*, user: User, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    """Creates a new API token for the user, valid for ``lifetime``, and returns it; only its
    hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        user=user, token_hash=_hash_token(token), expires_at=datetime.now(UTC) + lifetime
    )
    return token


async def _end_sessions(*, user_id: int | None = None, token_id: int | None = None) -> None:
    await bus.current().end_sessions(bus.session_payload(user_id=user_id, token_id=token_id))


async def revoke_token(*, token: str) -> bool:
    """Revokes one token and closes its connections; returns whether it was live."""
    session = await session_for_token(token=token)
    if session is None:
        return False
    return await logout(token_id=session.token_id)


async def logout(*, token_id: int) -> bool:
    """Revokes the token with this id and closes its connections; returns whether it was live."""
    revoked = await ApiToken.filter(id=token_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    if revoked:
        await _end_sessions(token_id=token_id)
    return revoked > 0


async def revoke_user_tokens(*, user: User) -> int:
    """Revokes every live token of the user and closes their connections; returns how many."""
    revoked = await ApiToken.filter(user_id=user.id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    await _end_sessions(user_id=user.id)
    return revoked


def _live_tokens() -> Q:
    return Q(revoked_at=None, expires_at__gt=datetime.now(UTC), user__is_active=True)


async def session_for_token(*, token: str) -> Session | None:
    """The session of a live token (not revoked, not expired, its user active), or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    api_token = (
        await ApiToken.filter(_live_tokens(), token_hash=_hash_token(token))
        .select_related("user")
        .first()
    )
    if api_token is None or api_token.expires_at is None:
        return None
    return Session(token_id=api_token.id, user=api_token.user, expires_at=api_token.expires_at)


async def session_by_id(*, token_id: int) -> Session | None:
    """The session of the token with this id while it is live (its user as stored now)."""
    api_token = await ApiToken.filter(_live_tokens(), id=token_id).select_related("user").first()
    if api_token is None or api_token.expires_at is None:
        return None
    return Session(token_id=api_token.id, user=api_token.user, expires_at=api_token.expires_at)


async def user_for_token(*, token: str) -> User | None:
    """The active user a live token belongs to, or None."""
    session = await session_for_token(token=token)
    return None if session is None else session.user


async def login(
    *,
    email: str,
    password: str,
    address: str | None,
    throttle: Throttle,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> tuple[User, str]:
    """Checks an email and password, within the login rate limits of the account and the
    client's address, and issues a token for that user."""
    email = _checked_email(email, field=["input", "email"])
    check_characters(password, field=["input", "password"])
    await throttle.begin_login(email=email, address=address)
    user = await User.get_or_none(email=email, is_active=True)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        await hashing.run(_hasher.verify, stored, password)
    except VerificationError:
        user = None
    if user is None or not user.password_hash:
        raise InvalidCredentials("wrong email or password")
    await throttle.login_succeeded(email=email, address=address)
    return user, await issue_token(user=user, lifetime=lifetime)


async def change_user(
    *,
    user_id: int,
    role: Role | None = None,
    is_active: bool | None = None,
    name: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
) -> User:
    """Changes a user's role, active flag, name, language or time zone (None: unchanged);
    refuses to leave the desk without an active admin. Deactivating revokes the user's
    tokens."""
    if name is not None:
        name = name.strip()
        _check_name(name)
    if locale is not None:
        _check_locale(locale)
    if time_zone is not None:
        _check_time_zone(time_zone)
    async with in_transaction():
        # Every active admin's row is locked first, in id order, so two admins demoting each
        # other at once are serialised and the second sees the first's change.
        admins = {
            admin.id
            for admin in await User.select_for_update()
            .filter(role=Role.ADMIN, is_active=True)
            .order_by("id")
        }
        user = await User.select_for_update().get_or_none(id=user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}", field=["input", "userId"])
        was_active = user.is_active
        new_role = user.role if role is None else role
        new_active = user.is_active if is_active is None else is_active
        if user.id in admins and (new_role != Role.ADMIN or not new_active) and len(admins) == 1:
            raise Forbidden(
                f"{user.email} is the last active admin: make another admin first",
                field=["input", "role" if new_role != Role.ADMIN else "isActive"],
            )
        user.role, user.is_active = new_role, new_active
        user.name = user.name if name is None else name
        user.locale = user.locale if locale is None else locale
        user.time_zone = user.time_zone if time_zone is None else time_zone
        await user.save(update_fields=["role", "is_active", "name", "locale", "time_zone"])
        if was_active and not new_active:
            await ApiToken.filter(user_id=user.id, revoked_at=None).update(
                revoked_at=datetime.now(UTC)
            )
    if was_active and not new_active:
        await _end_sessions(user_id=user.id)
    return user


async def update_user(
    *, actor: User, user_id: int, role: Role | None = None, is_active: bool | None = None
) -> User:
    """An admin changes a user's role or active flag (see ``change_user``)."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin may change a user's role or active flag")
    return await change_user(user_id=user_id, role=role, is_active=is_active)


async def all_users() -> list[User]:
    """Every user, active or not, by email (for the command line)."""
    return await User.all().order_by("email")


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
