"""One execution of a live subscription for every identical subscriber.

A dashboard page that a thousand people keep open subscribes a thousand times with the same
document and variables. Executing it once per change and sending the same result to all of them
is what keeps the fan-out near the cost of a bare WebSocket broadcast. Subscriptions are
identical when their document, variables and permission scope are: every signed-in user may
read every incident (JustPerform's "Everyone" view), so the scope is shared, except for documents
that select a field marked ``@viewerDependent`` (a link signed for the viewer, the moves they may
make), anywhere, fragments included: those are shared per viewer.

Each subscriber keeps its own queue, bounded in results and in bytes: one that falls behind
(256 results, or 4 MiB of them waiting) is closed with 4008 and never slows the others; each is
re-checked (still an active user) before the results it is sent: at the first after it joined,
and at most ``RECHECK_SECONDS`` apart after that (a deactivation also ends the user's sessions,
closing their WebSockets at once; the re-check is the backstop, and one round trip per result
in series was what let a busy desk's shared subscription lag behind its changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)
from graphql.error import GraphQLSyntaxError
from starlette.websockets import WebSocket
from strawberry.schema.schema_converter import GraphQLCoreConverter

from gql_support import logs
from gql_support.accounts.service import users_by_ids
from gql_support.api.context import Context
from gql_support.api.types import ViewerDependent
from gql_support.live import bus

#: The subscriptions whose results are events (nothing to replay to a late joiner).
SHARED_FIELDS = frozenset({"incidentUpdates"})
#: Where Strawberry keeps a graphql-core field's own definition (and so its directives).
_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
#: The most bytes of results (as JSON) a subscriber may have waiting, besides the one being
#: sent, before it is closed as too slow: room for a few of the largest (a 1 MiB comment).
QUEUE_BYTES = 4 * 1024 * 1024
#: How long a subscriber's check that it is still an active user holds.
RECHECK_SECONDS = 1.0
#: WebSocket close code for a subscriber that fell too far behind.
TOO_SLOW_CLOSE_CODE = 4008

_END = object()
_TOO_SLOW = object()

logger = logging.getLogger(__name__)


def shareable(query: str | None, operation_name: str | None) -> DocumentNode | None:
    """The document, if it is a subscription to event fields only, so it can be shared."""
    if not query:
        return None
    try:
        document = parse(query, no_location=True)
    except GraphQLSyntaxError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation != OperationType.SUBSCRIPTION:
        return None
    selections = chosen[0].selection_set.selections
    fields = {s.name.value if isinstance(s, FieldNode) else None for s in selections}
    return document if fields and fields <= SHARED_FIELDS else None


def _marked_viewer_dependent(field: GraphQLField | None) -> bool:
    definition = None if field is None else field.extensions.get(_DEFINITION)
    return any(isinstance(d, ViewerDependent) for d in getattr(definition, "directives", ()))


class _ViewerDependentFields(Visitor):
    """Stops at the first field of the document, in any fragment, marked ``@viewerDependent``."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = False

    def enter_field(self, *_: Any) -> Any:
        if _marked_viewer_dependent(self.type_info.get_field_def()):
            self.found = True
            return BREAK
        return None


def viewer_dependent(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """Whether the document selects a field whose value depends on the viewer, read from the
    schema's marks through every fragment (an unknown field is not one: execution refuses it)."""
    type_info = TypeInfo(schema)
    finder = _ViewerDependentFields(type_info)
    visit(document, TypeInfoVisitor(type_info, finder))
    return finder.found


def _fell_behind(result: Any) -> bool:
    """Whether a result is the end of an execution that fell too far behind the bus."""
    errors = getattr(result, "errors", None) or []
    return any(isinstance(e.original_error, bus.SubscriberTooSlow) for e in errors)


class _Subscriber:
    """One subscriber's queue of results, bounded in results and in bytes, and the id of the
    user it serves."""

    def __init__(self, user_id: int | None) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[tuple[Any, int]] = asyncio.Queue(bus.QUEUE_SIZE + 1)
        self.queued_bytes = 0

    def offer(self, result: Any, size: int) -> bool:
        """Queues a result without waiting; False when the subscriber is too far behind.
        A subscriber with nothing waiting takes any result, however large."""
        waiting = self.queue.qsize()
        if waiting >= bus.QUEUE_SIZE or (waiting and self.queued_bytes + size > QUEUE_BYTES):
            return False
        self.queue.put_nowait((result, size))
        self.queued_bytes += size
        return True

    def end(self, ending: object) -> None:
        """Queues the end after what waits, or, when too slow, instead of it (freeing it)."""
        if ending is _TOO_SLOW:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queued_bytes = 0
        self.queue.put_nowait((ending, 0))

    async def next(self) -> Any:
        result, size = await self.queue.get()
        self.queued_bytes -= size
        return result


def _size(result: Any) -> int:
    """About how many bytes a result takes to send: its data as JSON."""
    return len(json.dumps(getattr(result, "data", None), default=str))


class _Broadcast:
    """The one execution of a shared subscription, and its subscribers."""

    def __init__(self, key: str, start: Callable[[], AsyncIterator[Any]], registry: dict[str, Any]):
        self.key = key
        self.registry = registry
        self.subscribers: set[_Subscriber] = set()
        self.task = asyncio.create_task(self._pump(start))

    async def _pump(self, start: Callable[[], AsyncIterator[Any]]) -> None:
        ending: object = _END
        clock = asyncio.get_running_loop().time
        checked: set[int] = set()
        active: set[int] = set()
        checked_at = -RECHECK_SECONDS
        try:
            async for result in start():
                if _fell_behind(result):
                    ending = _TOO_SLOW
                    break
                # Permissions are re-checked, for every subscriber in one query, when someone
                # joined since or the last check is old: a deactivated user hears no more.
                users = {s.user_id for s in self.subscribers if s.user_id}
                if not users <= checked or clock() - checked_at >= RECHECK_SECONDS:
                    active = await _active_user_ids(users)
                    checked, checked_at = users, clock()
                # Measured once: the same result goes to every subscriber.
                size = _size(result)
                for subscriber in list(self.subscribers):
                    if subscriber.user_id is not None and subscriber.user_id not in active:
                        self._end(subscriber, _END)
                    elif not subscriber.offer(result, size):
                        self._end(subscriber, _TOO_SLOW)
        except Exception as error:
            # The execution stopped on an error of its own (the per-event check could not
            # reach a restarting database, say): its subscribers are told to reconnect and read
            # again (4008), as when they lag, never a "complete" that looks like a normal end.
            logs.failure(logger, error, "a shared subscription stopped; its subscribers reconnect")
            ending = _TOO_SLOW
        finally:
            self.registry.pop(self.key, None)
            for subscriber in list(self.subscribers):
                self._end(subscriber, ending)

    def _end(self, subscriber: _Subscriber, ending: object) -> None:
        self.subscribers.discard(subscriber)
        subscriber.end(ending)

    def join(self, user_id: int | None) -> _Subscriber:
        subscriber = _Subscriber(user_id)
        self.subscribers.add(subscriber)
        return subscriber

    def leave(self, subscriber: _Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self.registry.pop(self.key, None)
            self.task.cancel()


async def _active_user_ids(user_ids: set[int]) -> set[int]:
    found = await users_by_ids(list(user_ids)) if user_ids else {}
    return {user_id for user_id, user in found.items() if user.is_active}


async def subscribe_shared(
    *,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Context,
    per_viewer: bool,
    start: Callable[[], AsyncIterator[Any]],
) -> AsyncGenerator[Any, None]:
    """The results of the shared execution of this subscription, for one subscriber; shared
    only with the same viewer's when ``per_viewer``."""
    viewer = context.viewer
    scope = viewer.id if viewer is not None and per_viewer else None
    key = json.dumps([query, variables or {}, operation_name, scope], sort_keys=True)
    registry: dict[str, _Broadcast] = bus.current().hub.shared.setdefault("broadcasts", {})
    broadcast = registry.get(key)
    if broadcast is None:
        broadcast = registry[key] = _Broadcast(key, start, registry)
    subscriber = broadcast.join(None if viewer is None else viewer.id)
    try:
        while True:
            item = await subscriber.next()
            if item is _END:
                return
            if item is _TOO_SLOW:
                if isinstance(context.request, WebSocket):
                    await context.request.close(TOO_SLOW_CLOSE_CODE, "too slow: reconnect")
                    # Nothing may be sent on a closed socket, not even the "complete" that
                    # Strawberry sends when a subscription ends (it logged that failure as an
                    # error, traceback and all): the connection's shutdown cancels this.
                    await asyncio.Event().wait()
                return
            yield item
    finally:
        with contextlib.suppress(RuntimeError):
            broadcast.leave(subscriber)
