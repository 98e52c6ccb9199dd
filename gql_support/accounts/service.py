"""Account operations: creating and changing users (by an admin, or a user their own profile),
checking and changing passwords, issuing, resolving and revoking API tokens (sessions). Ending
a session closes its open connections on every process, through the live bus, after the
commit. Password resets by email are in ``reset``."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TypeVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from gql_support.accounts.models import ApiToken, PasswordReset, Role, User
from gql_support.accounts.passwords import check_new_password
from gql_support.accounts.throttle import Throttle
from gql_support.accounts.timezones import DEFAULT_TIME_ZONE, is_time_zone
from gql_support.db import transaction
from gql_support.errors import Forbidden, InvalidCredentials, InvalidInput, NotFound
from gql_support.live import bus
from gql_support.text import check_characters

TOKEN_PREFIX = "gqls_"
MAX_NAME = 200
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


def checked_email(email: str, *, field: list[str]) -> str:
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
    email = checked_email(email, field=["input", "email"])
    name = _checked_profile(name=name, locale=locale, time_zone=time_zone) or ""
    if password is not None:
        check_new_password(password, field=["input", "password"])
    password_hash = None if password is None else await hash_password(password)
    async with transaction():
        await _check_email_free(email)
        try:
            return await User.create(
                email=email,
                name=name,
                role=role,
                locale=locale,
                time_zone=time_zone,
                password_hash=password_hash,
            )
        except IntegrityError:
            # Taken by a transaction that committed since the check.
            raise _email_taken(email) from None


async def _check_email_free(email: str, *, other_than: int | None = None) -> None:
    taken = User.filter(email=email)
    if other_than is not None:
        taken = taken.exclude(id=other_than)
    if await taken.exists():
        raise _email_taken(email)


def _email_taken(email: str) -> InvalidInput:
    return InvalidInput(f"a user with email {email} already exists", field=["input", "email"])


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


async def end_sessions(*, user_id: int | None = None, token_id: int | None = None) -> None:
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
        await end_sessions(token_id=token_id)
    return revoked > 0


async def revoke_user_tokens(*, user: User) -> int:
    """Revokes every live token of the user and closes their connections; returns how many."""
    revoked = await ApiToken.filter(user_id=user.id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    await end_sessions(user_id=user.id)
    return revoked


#: The user's columns, then the token's id and expiry, of an unrevoked token found by one of its
#: columns (its hash, or its id). Written once per dialect and column: the ORM built this
#: statement again for every request (most of the lookup's time). Expiry and the user being
#: active are checked on the row, in Python (``_read_session``).
_SESSION_SQL = (
    "SELECT {user}, t.id AS token__id, t.expires_at AS token__expires_at"
    ' FROM "api_token" t JOIN "user" u ON u.id = t.user_id'
    " WHERE t.{column} = {param} AND t.revoked_at IS NULL"
)


@cache
def _session_sql(dialect: str, column: str) -> str:
    user = ", ".join(f'u."{name}"' for name in User._meta.db_fields)
    param = "$1" if dialect == "postgres" else "?"
    return _SESSION_SQL.format(user=user, column=column, param=param)


async def _read_session(column: str, value: object) -> Session | None:
    """The session of the token whose ``column`` is ``value`` while it is live: not revoked,
    not expired, its user active (as stored now)."""
    db = connections.get("default")
    _, rows = await db.execute_query(_session_sql(str(db.capabilities.dialect), column), [value])
    if not rows:
        return None
    row = dict(rows[0])
    expires_at = ApiToken._meta.fields_map["expires_at"].to_python_value(
        row.pop("token__expires_at")
    )
    token_id = row.pop("token__id")
    user = User._init_from_db(**row)
    if expires_at is None or expires_at <= datetime.now(UTC) or not user.is_active:
        return None
    return Session(token_id=token_id, user=user, expires_at=expires_at)


async def session_for_token(*, token: str) -> Session | None:
    """The session of a live token (not revoked, not expired, its user active), or None:
    read anew on every request, so a revoked token is refused at once."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await _read_session("token_hash", _hash_token(token))


async def session_by_id(*, token_id: int) -> Session | None:
    """The session of the token with this id while it is live (its user as stored now)."""
    return await _read_session("id", token_id)


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
    email = checked_email(email, field=["input", "email"])
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
    email: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
) -> User:
    """Changes a user's role, active flag, name, email, language or time zone (None:
    unchanged); refuses to leave the desk without an active admin. Deactivating revokes the
    user's tokens; a new email voids the reset links sent to the old one."""
    name = _checked_profile(name=name, locale=locale, time_zone=time_zone)
    if email is not None:
        email = checked_email(email, field=["input", "email"])
    async with transaction():
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
        if email is not None and email != user.email:
            await _check_email_free(email, other_than=user.id)
            await void_resets(user.id)
            user.email = email
        user.role, user.is_active = new_role, new_active
        _apply_profile(user, name=name, locale=locale, time_zone=time_zone)
        try:
            await user.save(
                update_fields=["role", "is_active", "name", "email", "locale", "time_zone"]
            )
        except IntegrityError:
            raise _email_taken(user.email) from None
        if was_active and not new_active:
            await ApiToken.filter(user_id=user.id, revoked_at=None).update(
                revoked_at=datetime.now(UTC)
            )
    if was_active and not new_active:
        await end_sessions(user_id=user.id)
    return user


def _checked_profile(*, name: str | None, locale: str | None, time_zone: str | None) -> str | None:
    """Refuses a bad name, language or time zone (None: not given); the name as stored."""
    if name is not None:
        name = name.strip()
        _check_name(name)
    if locale is not None:
        _check_locale(locale)
    if time_zone is not None:
        _check_time_zone(time_zone)
    return name


def _apply_profile(
    user: User, *, name: str | None, locale: str | None, time_zone: str | None
) -> None:
    user.name = user.name if name is None else name
    user.locale = user.locale if locale is None else locale
    user.time_zone = user.time_zone if time_zone is None else time_zone


async def void_resets(user_id: int) -> None:
    """Makes the user's unused password reset links unusable."""
    await PasswordReset.filter(user_id=user_id, used_at=None).update(used_at=datetime.now(UTC))


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin may create users or change other people's accounts")


async def update_user(
    *,
    actor: User,
    user_id: int,
    role: Role | None = None,
    is_active: bool | None = None,
    name: str | None = None,
    email: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
) -> User:
    """An admin changes a user's account (see ``change_user``)."""
    _require_admin(actor)
    return await change_user(
        user_id=user_id,
        role=role,
        is_active=is_active,
        name=name,
        email=email,
        locale=locale,
        time_zone=time_zone,
    )


async def add_user(
    *,
    actor: User,
    email: str,
    name: str,
    role: Role,
    locale: str,
    time_zone: str,
    password: str | None,
) -> User:
    """An admin creates a user (see ``create_user``); one without a password sets theirs
    through a password reset."""
    _require_admin(actor)
    return await create_user(
        email=email, name=name, role=role, locale=locale, time_zone=time_zone, password=password
    )


@dataclass(frozen=True, kw_only=True)
class NewPassword:
    """A password change asked for by a signed-in user: the current password proves it is
    them (checked within the login rate limits), the new one must follow the password rule."""

    current: str | None
    new: str
    address: str | None
    throttle: Throttle


async def update_profile(
    *,
    user: User,
    token_id: int,
    name: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
    password: NewPassword | None = None,
) -> User:
    """A user changes their own name, language, time zone or password (None: unchanged). A
    new password revokes every other token of theirs, and their unused reset links."""
    name = _checked_profile(name=name, locale=locale, time_zone=time_zone)
    password_hash = None if password is None else await _new_password_hash(user, password)
    revoked: list[int] = []
    async with transaction():
        current = await User.select_for_update().get(id=user.id)
        _apply_profile(current, name=name, locale=locale, time_zone=time_zone)
        if password_hash is not None:
            current.password_hash = password_hash
            revoked = await _revoke_tokens(user_id=user.id, keep=token_id)
            await void_resets(user.id)
        await current.save(update_fields=["name", "locale", "time_zone", "password_hash"])
    for revoked_id in revoked:
        await end_sessions(token_id=revoked_id)
    return current


async def change_password(*, user: User, token_id: int, password: NewPassword) -> User:
    """A user changes their password (see ``update_profile``)."""
    return await update_profile(user=user, token_id=token_id, password=password)


async def _new_password_hash(user: User, password: NewPassword) -> str:
    """The hash of the new password, once the current one is verified."""
    check_new_password(password.new, field=["input", "newPassword"])
    if not password.current:
        raise InvalidInput(
            "give your current password to set a new one", field=["input", "currentPassword"]
        )
    check_characters(password.current, field=["input", "currentPassword"])
    await password.throttle.begin_login(email=user.email, address=password.address)
    stored = (await User.get(id=user.id)).password_hash
    try:
        await hashing.run(_hasher.verify, stored or _DUMMY_HASH, password.current)
    except VerificationError:
        raise InvalidCredentials(
            "wrong current password", field=["input", "currentPassword"]
        ) from None
    if not stored:
        raise InvalidCredentials("wrong current password", field=["input", "currentPassword"])
    await password.throttle.login_succeeded(email=user.email, address=password.address)
    return await hash_password(password.new)


async def hash_password(password: str) -> str:
    """The argon2 hash of a password, computed in the hashing pool."""
    return await hashing.run(_hasher.hash, password)


async def _revoke_tokens(*, user_id: int, keep: int | None = None) -> list[int]:
    """Revokes the user's live tokens but ``keep``, in the caller's transaction; their ids."""
    live = ApiToken.filter(user_id=user_id, revoked_at=None)
    if keep is not None:
        live = live.exclude(id=keep)
    ids = [int(i) for i in await live.values_list("id", flat=True)]  # type: ignore[call-overload]
    if ids:
        await ApiToken.filter(id__in=ids).update(revoked_at=datetime.now(UTC))
    return ids


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
