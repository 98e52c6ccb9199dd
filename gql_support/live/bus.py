"""The event bus behind subscriptions: the ids of committed changes, delivered to every
server process, and fanned out inside each to its subscribers; and the sessions that ended
(a revoked token, a deactivated user), so every process closes their open connections.

    Hub                 this process's subscribers; a bounded queue each, deduplicated ids
    Sessions            this process's open connections, by user and token, to close on demand
    InProcessBus        one process (the embedded SQLite default): deliver after commit
    PostgresBus         NOTIFY inside the writing transaction (delivered only on commit),
                        one LISTEN connection per process, re-established with a catch-up
    RedisBus            PUBLISH after commit, one pub/sub connection per process, same catch-up

A payload is a change id, never more: subscribers read the change from ``incident_change``,
which is also what a listener reads to catch up after losing its connection (from the last
moment the connection was known to work: a silent loss is noticed only at a health check).
On the second channel a payload names an ended session, ``user:<id>`` or ``token:<id>``; it
needs no catch-up, as each operation on a connection also checks its token (see ``api.app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from tortoise import connections

from gql_support import metrics
from gql_support.live.models import IncidentChange

CHANNEL = "gql_support_changes"
SESSIONS_CHANNEL = "gql_support_sessions"
#: How many changes a subscriber may fall behind before it is dropped.
QUEUE_SIZE = 256
#: How far back a listener looks, before the last moment its connection was known to work,
#: when it catches up.
CATCH_UP_MARGIN = timedelta(seconds=5)
HEALTH_CHECK_SECONDS = 10.0
#: How long the listener's health check may take before its connection counts as lost.
HEALTH_CHECK_TIMEOUT = 5.0
#: How long a PUBLISH may take before the change is left for the listeners' catch-up.
PUBLISH_TIMEOUT = 2.0

log = logging.getLogger(__name__)


class SubscriberTooSlow(Exception):
    """The subscriber fell more than QUEUE_SIZE changes behind and was dropped."""


class Feed:
    """One subscriber's queue of change ids."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = False

    def offer(self, change_id: int) -> bool:
        """Queues a change without waiting; False when the subscriber is too far behind."""
        try:
            self.queue.put_nowait(change_id)
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True

    async def next(self) -> int:
        """The next change id; raises SubscriberTooSlow once the feed was dropped."""
        if self.dropped:
            raise SubscriberTooSlow(f"more than {QUEUE_SIZE} changes behind")
        return await self.queue.get()

    def pending(self, limit: int | None = None) -> list[int]:
        """Takes the change ids already waiting (at most ``limit`` of them)."""
        waiting: list[int] = []
        while not self.queue.empty() and (limit is None or len(waiting) < limit):
            waiting.append(self.queue.get_nowait())
        return waiting


@dataclass(eq=False)
class _Connection:
    user_id: int
    token_id: int
    close: Callable[[], Awaitable[None]]
    expiry: asyncio.TimerHandle | None = None


class Sessions:
    """This process's open connections (WebSockets), each with the user and token it runs as,
    closed when their session ends anywhere or their token expires."""

    def __init__(self) -> None:
        self._open: set[_Connection] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def add(
        self,
        *,
        user_id: int,
        token_id: int,
        close: Callable[[], Awaitable[None]],
        expires_in: float | None = None,
    ) -> Callable[[], None]:
        """Tracks a connection until the returned function is called (when it ends)."""
        connection = _Connection(user_id, token_id, close)
        if expires_in is not None:
            connection.expiry = asyncio.get_running_loop().call_later(
                max(expires_in, 0.0), self._close, connection
            )
        self._open.add(connection)

        def remove() -> None:
            self._open.discard(connection)
            if connection.expiry is not None:
                connection.expiry.cancel()

        return remove

    def end(self, payload: str) -> int:
        """Closes the connections of ``user:<id>`` or ``token:<id>``; returns how many."""
        kind, _, number = payload.partition(":")
        if kind not in {"user", "token"} or not number.isdigit():
            log.warning("ignored a malformed session message %r", payload)
            return 0
        ended = [
            c
            for c in list(self._open)
            if (c.user_id if kind == "user" else c.token_id) == int(number)
        ]
        for connection in ended:
            self._close(connection)
        return len(ended)

    def _close(self, connection: _Connection) -> None:
        if connection not in self._open:
            return
        self._open.discard(connection)
        if connection.expiry is not None:
            connection.expiry.cancel()
        task = asyncio.ensure_future(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return len(self._open)


def session_payload(*, user_id: int | None = None, token_id: int | None = None) -> str:
    """The message that ends a user's sessions, or one token's."""
    if (user_id is None) == (token_id is None):
        raise ValueError("name a user or a token")
    return f"user:{user_id}" if user_id is not None else f"token:{token_id}"


class Hub:
    """The subscribers of this process. Delivery never waits, so a slow one slows nobody."""

    def __init__(self) -> None:
        self._feeds: set[Feed] = set()
        self._seen: OrderedDict[int, None] = OrderedDict()
        #: What the transport shares between this hub's subscribers (reads, dashboard feeds).
        self.shared: dict[str, Any] = {}
        self.sessions = Sessions()

    def deliver(self, change_id: int) -> None:
        if change_id in self._seen:
            return
        self._seen[change_id] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        for feed in list(self._feeds):
            if not feed.offer(change_id):
                self._feeds.discard(feed)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Feed]:
        """A feed of the changes committed from now on, for the duration of the block."""
        feed = Feed()
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    @property
    def subscriber_count(self) -> int:
        """How many feeds are open: what a client can wait on before it expects changes."""
        return len(self._feeds)


class InProcessBus:
    """Delivers to this process only: right for one process on the embedded database."""

    def __init__(self) -> None:
        self.hub = Hub()

    @property
    def is_connected(self) -> bool:
        """Always: there is nothing to connect to."""
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def in_transaction(self, change_id: int) -> None:
        return None

    async def after_commit(self, change_id: int) -> None:
        self.hub.deliver(change_id)

    async def end_sessions(self, payload: str) -> None:
        """Closes the open connections of an ended session (call after the commit)."""
        self.hub.sessions.end(payload)


class _ListeningBus:
    """A bus with one listening connection per process, kept alive and caught up."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: From when changes may have been missed: set when the connection is lost.
        self._lost_at: datetime | None = None
        #: The last moment the connection was known to work (connected, heard, checked).
        self._alive_at: datetime | None = None

    @property
    def is_connected(self) -> bool:
        """Whether the listening connection is up (and caught up after a loss)."""
        return self.connected.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__} listener")
        await asyncio.wait_for(self.connected.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def in_transaction(self, change_id: int) -> None:
        return None

    async def after_commit(self, change_id: int) -> None:
        return None

    async def _listen(self, on_ready: Callable[[], Awaitable[None]]) -> None:
        """Connects, calls ``on_ready``, delivers until the connection fails (then raises)."""
        raise NotImplementedError

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen(self._ready)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure means: reconnect
                log.warning("%s lost its connection: %s", type(self).__name__, error)
            self.connected.clear()
            # Not the moment the loss was noticed: a connection that died silently is noticed
            # only at the next health check, up to HEALTH_CHECK_SECONDS + HEALTH_CHECK_TIMEOUT
            # later, and what was announced meanwhile never arrived either.
            self._lost_at = self._lost_at or self._alive_at or datetime.now(UTC)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _alive(self) -> None:
        """Notes that the connection works now (it delivered, or answered its health check)."""
        self._alive_at = datetime.now(UTC)

    async def _ready(self) -> None:
        self._alive()
        if self._lost_at is not None:
            since = self._lost_at - CATCH_UP_MARGIN
            missed = await (
                IncidentChange.filter(created_at__gte=since)
                .order_by("id")
                .values_list("id", flat=True)
            )
            for change_id in missed:
                self.hub.deliver(int(change_id))  # type: ignore[call-overload]
            self._lost_at = None
            metrics.BUS_RECONNECTS.inc()
            metrics.BUS_REPLAYED.inc(len(missed))
            log.info("%s reconnected; replayed %d change(s)", type(self).__name__, len(missed))
        self.connected.set()


class PostgresBus(_ListeningBus):
    """PostgreSQL LISTEN/NOTIFY: NOTIFY is sent inside the writing transaction, so it is
    delivered on commit and never for a rollback."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn

    async def in_transaction(self, change_id: int) -> None:
        await connections.get("default").execute_query(
            "SELECT pg_notify($1, $2)", [CHANNEL, str(change_id)]
        )

    async def end_sessions(self, payload: str) -> None:
        """Tells every process (this one included) to close an ended session's connections."""
        await connections.get("default").execute_query(
            "SELECT pg_notify($1, $2)", [SESSIONS_CHANNEL, payload]
        )

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._alive()
        self.hub.deliver(int(payload))

    async def _listen(self, on_ready: Callable[[], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "gql-support-listener"}
        )
        try:
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._notified)
            await conn.add_listener(
                SESSIONS_CHANNEL,
                lambda _conn, _pid, _channel, payload: self.hub.sessions.end(payload),
            )
            await on_ready()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), HEALTH_CHECK_SECONDS)
                    break
                await conn.fetchval("SELECT 1", timeout=HEALTH_CHECK_TIMEOUT)
                self._alive()
            raise ConnectionError("the listening connection was closed")
        finally:
            if not conn.is_closed():
                conn.terminate()


class RedisBus(_ListeningBus):
    """Redis pub/sub: PUBLISH after commit."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._publisher: object | None = None

    async def after_commit(self, change_id: int) -> None:
        await self._publish(CHANNEL, str(change_id))

    async def end_sessions(self, payload: str) -> None:
        """Tells every process (this one included) to close an ended session's connections."""
        await self._publish(SESSIONS_CHANNEL, payload)

    async def _publish(self, channel: str, payload: str) -> None:
        """Publishes after the commit, so a failure must not undo nor hide it: the change is
        logged as not announced, and every listener, having lost the same server, reads it
        from the database when it reconnects (an ended session is re-checked by each
        operation). The timeouts keep a hung Redis from holding the request."""
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        if self._publisher is None:
            self._publisher = Redis.from_url(
                self.url, socket_timeout=PUBLISH_TIMEOUT, socket_connect_timeout=PUBLISH_TIMEOUT
            )
        assert isinstance(self._publisher, Redis)
        try:
            await self._publisher.publish(channel, payload)
        except (RedisError, OSError) as error:
            log.warning("%s %s not announced on Redis: %s", channel, payload, error)

    async def stop(self) -> None:
        await super().stop()
        if self._publisher is not None:
            await self._publisher.aclose()  # type: ignore[attr-defined]

    async def _listen(self, on_ready: Callable[[], Awaitable[None]]) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self.url, health_check_interval=HEALTH_CHECK_SECONDS)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL, SESSIONS_CHANNEL)
                await on_ready()
                async for message in pubsub.listen():
                    self._alive()
                    if message["type"] != "message":
                        continue
                    if message["channel"] == SESSIONS_CHANNEL.encode():
                        self.hub.sessions.end(message["data"].decode())
                    else:
                        self.hub.deliver(int(message["data"]))
            raise ConnectionError("the pub/sub connection ended")
        finally:
            await client.aclose()


Bus = InProcessBus | PostgresBus | RedisBus


def for_database(database_url: str, redis_url: str | None) -> Bus:
    """The bus a deployment calls for: Redis if configured, else PostgreSQL's LISTEN/NOTIFY on
    PostgreSQL, else in-process (one process on SQLite)."""
    if redis_url:
        return RedisBus(redis_url)
    if database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return PostgresBus(database_url.replace("asyncpg://", "postgres://", 1))
    return InProcessBus()


_bus: Bus = InProcessBus()


def current() -> Bus:
    """The bus of this process."""
    return _bus


def use(bus: Bus) -> None:
    """Makes ``bus`` the bus of this process (done once, at start-up)."""
    global _bus
    _bus = bus
