"""Counting the incidents a dashboard filter selects, cheaply on large tables.

``count(*)`` over every incident reads the whole table, or at best a whole index (61 ms at 1M
incidents in EXPLAIN, and past the 5 s statement timeout on a busy machine right after a bulk
load, before VACUUM has marked the pages all-visible). Every incident takes its Request ID from
the gapless counter and none is ever deleted, so the count of all of them is the counter's
value: one row.

A search alone is counted from the GIN index with nothing else to check (the page's condition
carries the declared cost of reading each vector, a call on the row's id, which would make
PostgreSQL read every matching row). A frequent word cannot be counted cheaply at all (2.9 s
for a word in 65 % of 1M incidents, 1.4 to 2.2 s with a status filter): past ``EXACT_UP_TO``
incidents by PostgreSQL's estimate, the estimate is the answer, and the API says so
(``totalCountIsEstimate``). With other conditions, the estimate is the search's matches times
the share of incidents the other conditions keep, as the planner guesses each (it guesses
their conjunction badly: the search's condition carries the declared cost of a function, whose
selectivity it takes as a third). Other filtered lists are counted by the database, as it
selects.
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

from gql_support import db
from gql_support.incidents.filters import And, Predicate, Search
from gql_support.incidents.models import Incident, IncidentCounter
from gql_support.incidents.search import count_matches, estimate_matches

EVERY_INCIDENT = And(())
#: Builds the query of the incidents a predicate selects.
Where = Callable[[Predicate], QuerySet[Incident]]
#: Searches estimated to match more incidents than this are not counted one by one.
EXACT_UP_TO = 10_000


@dataclass(frozen=True)
class Count:
    value: int
    #: Whether ``value`` is PostgreSQL's estimate rather than an exact count.
    estimate: bool = False


def search_of(predicate: Predicate) -> tuple[str, Predicate] | None:
    """On PostgreSQL (where an index counts and the planner estimates), the words of a search
    that is one of the predicate's conditions, and the other conditions."""
    if connections.get("default").capabilities.dialect != "postgres":
        return None
    match predicate:
        case And(parts):
            searches = [part for part in parts if isinstance(part, Search)]
            if len(searches) == 1:
                return searches[0].words, And(tuple(p for p in parts if p != searches[0]))
    return None


async def _share(query: QuerySet[Incident]) -> float:
    """The share of every incident that PostgreSQL's planner guesses ``query`` selects."""
    kept = await db.planned_rows(*db.parameterized(query.values("id")))
    every = await db.planned_rows(*db.parameterized(Incident.all().values("id")))
    return kept / max(1, every)


def count_column(query: QuerySet[Incident], predicate: Predicate) -> Term | None:
    """A column of the page's own statement that counts what ``predicate`` selects (``query``),
    when one can: the counter's value for every incident, a count of the rows for a filter that
    only counting tells. A search is counted on its own (estimated, if frequent)."""
    if predicate == EVERY_INCIDENT:
        return RawSQL('(SELECT "value" FROM "incident_counter" WHERE "id" = 1)')
    if search_of(predicate) is not None:
        return None
    return Subquery(query.annotate(n=CountRows("id")).values("n"))


async def count_incidents(
    query: QuerySet[Incident], predicate: Predicate, *, where: Where, matches: int | None = None
) -> Count:
    """How many incidents ``query`` (the incidents ``predicate`` selects) holds; ``where``
    builds the query of a predicate, to estimate it; ``matches``: PostgreSQL's estimate of the
    search's matches, if already read."""
    if predicate == EVERY_INCIDENT:
        counter = await IncidentCounter.get(id=1)
        return Count(counter.value)
    searched = search_of(predicate)
    if searched is not None:
        words, rest = searched
        estimated = await estimate_matches(words) if matches is None else matches
        if rest != EVERY_INCIDENT:
            estimated = round(estimated * await _share(where(rest)))
        if estimated > EXACT_UP_TO:
            return Count(estimated, estimate=True)
        if rest == EVERY_INCIDENT:
            return Count(await count_matches(words))
    return Count(await query.count())


class Counting:
    """A list's count, read once however many fields ask for it."""

    def __init__(
        self,
        select: Callable[[], QuerySet[Incident]],
        predicate: Predicate,
        *,
        where: Where,
        matches: int | None = None,
        known: int | None = None,
    ) -> None:
        #: Builds the query of what ``predicate`` selects, if the count must be read.
        self.select = select
        self.where = where
        self.matches = matches
        self.predicate = predicate
        self._known = None if known is None else Count(known)
        self._count: asyncio.Task[Count] | None = None

    async def _read(self) -> Count:
        if self._known is not None:
            return self._known
        if self._count is None:
            self._count = asyncio.ensure_future(
                count_incidents(
                    self.select(), self.predicate, where=self.where, matches=self.matches
                )
            )
        return await self._count

    async def total(self) -> int:
        return (await self._read()).value

    async def is_estimate(self) -> bool:
        return (await self._read()).estimate
