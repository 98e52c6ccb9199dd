"""Word search over an incident's description, comments and references.

PostgreSQL matches with full text, English and French stemming at once, through a GIN index on
the expression below; SQLite, the embedded default, matches every word as a substring.
"""

from __future__ import annotations

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from gql_support.incidents.models import Incident

CONFIGS = ("english", "french")
VECTOR_SQL = " || ".join(f"to_tsvector('{c}', search_document)" for c in CONFIGS)
CREATE_INDEX_SQL = f"CREATE INDEX incident_search_idx ON incident USING GIN (({VECTOR_SQL}))"
DROP_INDEX_SQL = "DROP INDEX incident_search_idx"


class _FullTextMatch(Term):
    """``<incident vector> @@ <query in each language>``, the query passed as a parameter."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = ValueWrapper(words)

    def get_sql(self, ctx: SqlContext) -> str:
        queries = " || ".join(
            f"websearch_to_tsquery('{c}', {self.words.get_sql(ctx)})" for c in CONFIGS
        )
        sql = f"({VECTOR_SQL}) @@ ({queries})"
        return format_alias_sql(sql, self.alias, ctx) if ctx.with_alias else sql


def filter_by_words(query: QuerySet[Incident], words: str, *, dialect: str) -> QuerySet[Incident]:
    """Keeps the incidents whose text holds the words (all of them)."""
    if dialect == "postgres":
        return query.annotate(search_match=_FullTextMatch(words)).filter(search_match=True)
    condition = Q()
    for word in words.split():
        condition &= Q(search_document__icontains=word)
    return query.filter(condition)
