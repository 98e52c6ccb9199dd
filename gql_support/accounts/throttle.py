"""Rate limits shared by every server process: growing waits after login attempts (per account
and per client address), budgets of writes and of exports per user that no person meets but a
script does, and an hourly allowance of password reset emails (per address asked about and per
client).

    Counter         one key's state: hits, blocked until, last update (seconds since the epoch)
    rules           pure steps: (counter, now) -> (counter to keep or None to forget, wait or None)
    DatabaseStore   the ``throttle`` table, the key's row locked for each step
    RedisStore      one Redis hash per key, each step in a WATCH/MULTI transaction
    Throttle        the limits the settings ask for, over one store; refusals raise RateLimited

Each step is one atomic read-modify-write of one key, so parallel requests on several processes
count every attempt once. A login attempt is counted before its password is checked, so a burst
of parallel guesses gets no more tries than a sequence would.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from gql_support import metrics
from gql_support.accounts.models import Throttle as ThrottleRow
from gql_support.errors import RateLimited
from gql_support.settings import Settings

Clock = Callable[[], float]
#: The first wait after the free login attempts; each further attempt doubles it.
FIRST_WAIT = 1.0
#: A login key left alone this long (beyond any wait) starts afresh.
FORGET_AFTER = 3600.0
#: Doubling stops here, long past any maximum wait, so the power stays a small float.
_MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class Counter:
    hits: float = 0.0
    blocked_until: float = 0.0
    updated_at: float = 0.0


#: A step's outcome: the counter to keep (None: forget the key) and, when refused, the wait.
Outcome = tuple[Counter | None, float | None]
Rule = Callable[[Counter, float], Outcome]


def login_attempt(*, free: int, max_wait: float) -> Rule:
    """Counts an attempt; past ``free`` of them, each blocks the key for twice the last wait."""

    def step(counter: Counter, now: float) -> Outcome:
        if now - max(counter.updated_at, counter.blocked_until) > FORGET_AFTER:
            counter = Counter()
        if counter.blocked_until > now:
            return counter, counter.blocked_until - now
        hits = counter.hits + 1
        over = hits - free
        wait = min(max_wait, FIRST_WAIT * 2 ** min(over - 1, _MAX_DOUBLINGS)) if over > 0 else 0
        return Counter(hits=hits, blocked_until=now + wait if wait else 0.0, updated_at=now), None

    return step


def forget(counter: Counter, now: float) -> Outcome:
    """A correct password: the account's count starts afresh."""
    return None, None


def refund(counter: Counter, now: float) -> Outcome:
    """A correct password: that attempt does not count against its address."""
    return replace(counter, hits=max(0.0, counter.hits - 1)), None


def spend(*, per_minute: float, burst: int) -> Rule:
    """A leaky bucket: each write adds one, the level drains at ``per_minute``, and a write
    that would take it over ``burst`` is refused."""
    per_second = per_minute / 60

    def step(counter: Counter, now: float) -> Outcome:
        level = max(0.0, counter.hits - per_second * (now - counter.updated_at)) + 1
        if level > burst:
            return counter, (level - burst) / per_second
        return Counter(hits=level, updated_at=now), None

    return step


class Store(Protocol):
    async def step(self, key: str, rule: Rule, *, now: float, keep_for: float) -> float | None:
        """Applies ``rule`` to the key's counter atomically; the wait if refused."""

    async def close(self) -> None:
        """Releases connections."""


class DatabaseStore:
    """Counters in the ``throttle`` table: the row is locked (PostgreSQL ``FOR UPDATE``; SQLite
    runs one transaction at a time) while a step reads and writes it."""

    async def step(self, key: str, rule: Rule, *, now: float, keep_for: float) -> float | None:
        async with in_transaction():
            row = await ThrottleRow.select_for_update().get_or_none(key=key)
            if row is None:
                # Leftovers of keys nobody tried for long go when new keys come.
                await ThrottleRow.filter(
                    updated_at__lt=now - keep_for, blocked_until__lt=now
                ).delete()
                await ThrottleRow.bulk_create([ThrottleRow(key=key)], ignore_conflicts=True)
                row = await ThrottleRow.select_for_update().get(key=key)
            kept, wait = rule(Counter(row.hits, row.blocked_until, row.updated_at), now)
            if wait is not None:
                return wait
            if kept is None:
                await row.delete()
            else:
                row.hits, row.blocked_until, row.updated_at = (
                    kept.hits,
                    kept.blocked_until,
                    kept.updated_at,
                )
                await row.save(update_fields=["hits", "blocked_until", "updated_at"])
        return None

    async def close(self) -> None:
        return None


class RedisStore:
    """Counters in Redis hashes (``gql-support:throttle:<key>``), expiring when no longer
    needed; a step retries when another process changed the key meanwhile."""

    PREFIX = "gql-support:throttle:"

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.client: Any = Redis.from_url(url)

    async def step(self, key: str, rule: Rule, *, now: float, keep_for: float) -> float | None:
        from redis.exceptions import WatchError

        name = self.PREFIX + key
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(name)
                    stored = {k.decode(): float(v) for k, v in (await pipe.hgetall(name)).items()}
                    kept, wait = rule(Counter(**stored), now)
                    if wait is not None:
                        await pipe.unwatch()
                        return wait
                    pipe.multi()
                    if kept is None:
                        pipe.delete(name)
                    else:
                        pipe.hset(
                            name,
                            mapping={
                                "hits": kept.hits,
                                "blocked_until": kept.blocked_until,
                                "updated_at": kept.updated_at,
                            },
                        )
                        pipe.expire(name, math.ceil(keep_for))
                    await pipe.execute()
                    return None
                except WatchError:
                    continue

    async def close(self) -> None:
        await self.client.aclose()


def _key(kind: str, value: str) -> str:
    # Hashed: a fixed length whatever the client sent, and no addresses or emails at rest.
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


class Throttle:
    """The rate limits of one deployment, over a store every process shares."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = time.time,
        free_attempts: int = 5,
        free_attempts_per_address: int = 30,
        max_wait: float = 900.0,
        writes_per_minute: float = 30.0,
        write_burst: int = 30,
        resets_per_hour: int = 3,
        resets_per_hour_per_address: int = 20,
        exports_per_minute: float = 1.0,
        export_burst: int = 5,
    ) -> None:
        self.store = store
        self.clock = clock
        self._account_attempt = login_attempt(free=free_attempts, max_wait=max_wait)
        self._address_attempt = login_attempt(free=free_attempts_per_address, max_wait=max_wait)
        self._login_keep = FORGET_AFTER + max_wait
        self._write = spend(per_minute=writes_per_minute, burst=write_burst)
        self._write_keep = 60 * write_burst / writes_per_minute
        self._reset_account = spend(per_minute=resets_per_hour / 60, burst=resets_per_hour)
        self._reset_address = spend(
            per_minute=resets_per_hour_per_address / 60, burst=resets_per_hour_per_address
        )
        self._export = spend(per_minute=exports_per_minute, burst=export_burst)
        self._export_keep = 60 * export_burst / exports_per_minute

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.time) -> Throttle:
        """Limits from the settings, in Redis when it is configured, else in the database."""
        store: Store = RedisStore(settings.redis_url) if settings.redis_url else DatabaseStore()
        return cls(
            store,
            clock=clock,
            free_attempts=settings.login_free_attempts,
            free_attempts_per_address=settings.login_free_attempts_per_address,
            max_wait=settings.login_max_wait_seconds,
            writes_per_minute=settings.writes_per_minute,
            write_burst=settings.write_burst,
            resets_per_hour=settings.password_resets_per_hour,
            resets_per_hour_per_address=settings.password_resets_per_hour_per_address,
            exports_per_minute=settings.exports_per_minute,
            export_burst=settings.export_burst,
        )

    async def begin_login(self, *, email: str, address: str | None) -> None:
        """Counts a login attempt before its password is checked; RateLimited while the
        address or the account must wait."""
        now = self.clock()
        steps = [(_key("login-account", email), self._account_attempt)]
        if address:
            steps.insert(0, (_key("login-address", address), self._address_attempt))
        for key, rule in steps:
            wait = await self.store.step(key, rule, now=now, keep_for=self._login_keep)
            if wait is not None:
                metrics.RATE_LIMITED.labels("login").inc()
                raise RateLimited("too many login attempts", retry_after=math.ceil(wait))

    async def login_succeeded(self, *, email: str, address: str | None) -> None:
        """A correct password: the account starts afresh and the address gets its try back."""
        now = self.clock()
        await self.store.step(
            _key("login-account", email), forget, now=now, keep_for=self._login_keep
        )
        if address:
            await self.store.step(
                _key("login-address", address), refund, now=now, keep_for=self._login_keep
            )

    async def spend_write(self, *, user_id: int) -> None:
        """Takes one write from the user's budget; RateLimited when it is spent."""
        wait = await self.store.step(
            f"write:{user_id}", self._write, now=self.clock(), keep_for=self._write_keep
        )
        if wait is not None:
            metrics.RATE_LIMITED.labels("write").inc()
            raise RateLimited("too many changes in a short time", retry_after=math.ceil(wait))

    async def spend_password_reset(self, *, email: str, address: str | None) -> None:
        """Counts a password reset request, per email address asked about and per client;
        RateLimited past either's hourly allowance (the same whether or not it is a user's)."""
        now = self.clock()
        steps = [(_key("reset-account", email), self._reset_account)]
        if address:
            steps.insert(0, (_key("reset-address", address), self._reset_address))
        for key, rule in steps:
            wait = await self.store.step(key, rule, now=now, keep_for=3600.0)
            if wait is not None:
                raise RateLimited("too many password reset requests", retry_after=math.ceil(wait))

    async def spend_export(self, *, user_id: int) -> None:
        """Takes one export from the user's budget; RateLimited when it is spent."""
        wait = await self.store.step(
            f"export:{user_id}", self._export, now=self.clock(), keep_for=self._export_keep
        )
        if wait is not None:
            raise RateLimited("too many exports in a short time", retry_after=math.ceil(wait))

    async def close(self) -> None:
        await self.store.close()
