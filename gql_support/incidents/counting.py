"""Counting the incidents a dashboard filter selects, cheaply on large tables.

``count(*)`` over every incident reads the whole table, or at best a whole index (61 ms at 1M
incidents in EXPLAIN, and past the 5 s statement timeout on a busy machine right after a bulk
load, before VACUUM has marked the pages all-visible). Every incident takes its Request ID from
the gapless counter and none is ever deleted, so the count of all of them is the counter's
value: one row. A search alone is counted from the GIN index with nothing else to check
(``search.count_matches``): the page's condition carries the declared cost of reading each
vector, a call on the row's id, which would make PostgreSQL read every matching row. Other
filtered lists are counted by the database, as it selects.
"""

from __future__ import annotations

from tortoise import connections
from tortoise.queryset import QuerySet

from gql_support.incidents.filters import And, Predicate, Search
from gql_support.incidents.models import Incident, IncidentCounter
from gql_support.incidents.search import count_matches

EVERY_INCIDENT = And(())


def _search_alone(predicate: Predicate) -> str | None:
    """The words of a search with no other condition, on PostgreSQL (where an index counts)."""
    match predicate:
        case And((Search(words),)) if connections.get("default").capabilities.dialect == "postgres":
            return words
    return None


def needs_counting(predicate: Predicate) -> bool:
    """Whether only counting the selected rows tells how many there are (no counter or index
    does): the page's statement may then count them as it selects."""
    return predicate != EVERY_INCIDENT and _search_alone(predicate) is None


async def count_incidents(query: QuerySet[Incident], predicate: Predicate) -> int:
    """How many incidents ``query`` (the incidents ``predicate`` selects) holds."""
    if predicate == EVERY_INCIDENT:
        counter = await IncidentCounter.get(id=1)
        return counter.value
    words = _search_alone(predicate)
    if words is not None:
        return await count_matches(words)
    return await query.count()
