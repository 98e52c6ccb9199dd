"""Word search over an incident's description, comments and references.

PostgreSQL matches with full text, English and French stemming at once, through a GIN index on
the expression below; SQLite, the embedded default, matches every word as a substring.
Both costs grow with every word, so a search is refused beyond what a person types.
"""

from __future__ import annotations

from collections.abc import Sequence

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from gql_support.errors import InvalidInput
from gql_support.incidents.models import Incident

CONFIGS = ("english", "french")
VECTOR_SQL = " || ".join(f"to_tsvector('{c}', search_document)" for c in CONFIGS)
CREATE_INDEX_SQL = f"CREATE INDEX incident_search_idx ON incident USING GIN (({VECTOR_SQL}))"
DROP_INDEX_SQL = "DROP INDEX incident_search_idx"
#: The longest search accepted: a sentence, not a document (five parallel searches of
#: 200,000 words held every PostgreSQL connection for a minute).
MAX_SEARCH_CHARACTERS = 200
MAX_SEARCH_WORDS = 20


def check_search(words: str, *, field: Sequence[str]) -> None:
    """Refuses a search longer than ``MAX_SEARCH_CHARACTERS`` or ``MAX_SEARCH_WORDS``."""
    if len(words) > MAX_SEARCH_CHARACTERS:
        raise InvalidInput(
            f"search must be at most {MAX_SEARCH_CHARACTERS} characters", field=field
        )
    if len(words.split()) > MAX_SEARCH_WORDS:
        raise InvalidInput(f"search must be at most {MAX_SEARCH_WORDS} words", field=field)


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
