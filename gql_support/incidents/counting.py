"""Counting the incidents a dashboard filter selects, cheaply on large tables.

``count(*)`` over every incident reads the whole table, or at best a whole index (61 ms at 1M
incidents in EXPLAIN, and past the 5 s statement timeout on a busy machine right after a bulk
load, before VACUUM has marked the pages all-visible). Every incident takes its Request ID from
the gapless counter and none is ever deleted, so the count of all of them is the counter's
value: one row.

A search alone is counted from the GIN index with nothing else to check (the page's condition
carries the declared cost of reading each vector, a call on the row's id, which would make
PostgreSQL read every matching row). A frequent word cannot be counted cheaply at all (2.9 s
for a word in 65 % of 1M incidents): past ``EXACT_UP_TO`` matches by PostgreSQL's estimate,
the estimate is the answer, and the API says so (``totalCountIsEstimate``). Other filtered
lists are counted by the database, as it selects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from pypika_tortoise.terms import Term
from tortoise import connections
from tortoise.expressions import RawSQL, Subquery
from tortoise.functions import Count as CountRows
from tortoise.queryset import QuerySet

from gql_support.incidents.filters import And, Predicate, Search
from gql_support.incidents.models import Incident, IncidentCounter
from gql_support.incidents.search import count_matches, estimate_matches

EVERY_INCIDENT = And(())
#: Searches estimated to match more incidents than this are not counted one by one.
EXACT_UP_TO = 10_000


@dataclass(frozen=True)
class Count:
    value: int
    #: Whether ``value`` is PostgreSQL's estimate rather than an exact count.
    estimate: bool = False


def _search_alone(predicate: Predicate) -> str | None:
    """The words of a search with no other condition, on PostgreSQL (where an index counts)."""
    match predicate:
        case And((Search(words),)) if connections.get("default").capabilities.dialect == "postgres":
            return words
    return None


def count_column(query: QuerySet[Incident], predicate: Predicate) -> Term | None:
    """A column of the page's own statement that counts what ``predicate`` selects (``query``),
    when one can: the counter's value for every incident, a count of the rows for a filter that
    only counting tells. A search alone is counted on its own (from the index, or estimated)."""
    if predicate == EVERY_INCIDENT:
        return RawSQL('(SELECT "value" FROM "incident_counter" WHERE "id" = 1)')
    if _search_alone(predicate) is not None:
        return None
    return Subquery(query.annotate(n=CountRows("id")).values("n"))


async def count_incidents(query: QuerySet[Incident], predicate: Predicate) -> Count:
    """How many incidents ``query`` (the incidents ``predicate`` selects) holds."""
    if predicate == EVERY_INCIDENT:
        counter = await IncidentCounter.get(id=1)
        return Count(counter.value)
    words = _search_alone(predicate)
    if words is not None:
        estimated = await estimate_matches(words)
        if estimated > EXACT_UP_TO:
            return Count(estimated, estimate=True)
        return Count(await count_matches(words))
    return Count(await query.count())


class Counting:
    """A list's count, read once however many fields ask for it."""

    def __init__(
        self,
        select: Callable[[], QuerySet[Incident]],
        predicate: Predicate,
        *,
        known: int | None = None,
    ) -> None:
        #: Builds the query of what ``predicate`` selects, if the count must be read.
        self.select = select
        self.predicate = predicate
        self._known = None if known is None else Count(known)
        self._count: asyncio.Task[Count] | None = None

    async def _read(self) -> Count:
        if self._known is not None:
            return self._known
        if self._count is None:
            self._count = asyncio.ensure_future(count_incidents(self.select(), self.predicate))
        return await self._count

    async def total(self) -> int:
        return (await self._read()).value

    async def is_estimate(self) -> bool:
        return (await self._read()).estimate
