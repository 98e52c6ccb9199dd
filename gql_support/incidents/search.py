"""Word search over an incident's description, comments and references.

PostgreSQL matches with full text, English and French stemming at once, through a GIN index on
the stored column ``search_vector`` (kept by a trigger: migration 0009); SQLite, the embedded
default, matches every word as a substring, folding ASCII letters only (its UPPER and LIKE know
no others).

The same match serves the dashboard's queries (``words_condition``) and the live updates
(``search_hits``), which must also judge the text an incident had before a change. The search
document only grows (comments, references and file names are appended to it), so the text
before a change is its first ``length`` characters.
Both costs grow with every word, so a search is refused beyond what a person types.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

from pypika_tortoise.context import SqlContext
from pypika_tortoise.terms import Term, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise import connections
from tortoise.expressions import Q

from gql_support import db
from gql_support.errors import InvalidInput
from gql_support.incidents.models import Incident

CONFIGS = ("english", "french")


def vector_sql(document: str) -> str:
    """The SQL of a text's vector, as the search trigger computes it (migration 0009)."""
    return " || ".join(f"to_tsvector('{c}', {document})" for c in CONFIGS)


#: The whole document's vector, stored and indexed (as migration 0009 builds it).
VECTOR_SQL = "search_vector"
SEARCH_INDEX = "incident_search_idx"
#: True, at the declared cost of reading a stored vector (migrations 0011 and 0012): without it
#: the planner walked an order's index reading thousands of vectors rather than sort the
#: matches. It is parallel unsafe: a statement calling it runs in one process.
READ_COST_SQL = 'incident_search_read("incident"."id")'
#: The trigger that keeps ``search_vector`` (a bulk load fills the column itself).
SEARCH_TRIGGER = "incident_search_vector"
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


_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


class _FullTextMatch(Term):
    """``<incident vector> @@ <query in each language>``, the query passed as a parameter; over
    the first ``length`` characters of the document when a length is given."""

    def __init__(self, words: str, length: int | None = None) -> None:
        super().__init__()
        self.words = ValueWrapper(words)
        self.length = length

    def get_sql(self, ctx: SqlContext) -> str:
        queries = query_sql(lambda: self.words.get_sql(ctx))
        # Only the whole document is stored and indexed; a prefix is for one row.
        vector = (
            VECTOR_SQL
            if self.length is None
            else vector_sql(f"left(search_document, {int(self.length)})")
        )
        sql = f"({vector}) @@ {queries}"
        if self.length is None:
            # Declares what each match costs, reading the stored vector (migration 0011).
            sql = f"({sql} AND {READ_COST_SQL})"
        return format_alias_sql(sql, self.alias, ctx) if ctx.with_alias else sql


def query_sql(parameter: Callable[[], str]) -> str:
    """The words as one query in both languages, each placeholder from ``parameter()``. When
    both parse them alike (most words), the query says them once: ``'x' | 'x'`` made
    PostgreSQL guess twice the matches there are."""
    english, french, once, again = (
        f"websearch_to_tsquery('{c}', {parameter()})" for c in (*CONFIGS, *CONFIGS)
    )
    return f"(CASE WHEN {english} = {french} THEN {once} ELSE {once} || {again} END)"


async def count_matches(words: str) -> int:
    """How many incidents hold the words (PostgreSQL), read from the GIN index: no other
    condition, so PostgreSQL skips the rows of pages VACUUM marked all-visible."""
    client = connections.get("default")
    sql = f"SELECT count(*) AS n FROM incident WHERE {VECTOR_SQL} @@ {query_sql(lambda: '$1')}"
    rows = await client.execute_query_dict(sql, [words])
    return int(rows[0]["n"])


async def estimate_matches(words: str) -> int:
    """How many incidents PostgreSQL's planner guesses hold the words (its statistics, no
    row read)."""
    sql = f"SELECT 1 FROM incident WHERE {VECTOR_SQL} @@ {query_sql(lambda: '$1')}"
    return await db.planned_rows(sql, [words])


def words_condition(words: str, *, dialect: str, name: str) -> tuple[Q, dict[str, Term]]:
    """The condition "the incident's text holds the words (all of them)", and the annotations
    it filters on (named after ``name``)."""
    if dialect == "postgres":
        matched: dict[str, Any] = {name: True}
        return Q(**matched), {name: _FullTextMatch(words)}
    return Q(*(Q(search_document__icontains=word) for word in words.split())), {}


def like_holds(words: str, text: str) -> bool:
    """SQLite's word match, judged in Python: every word is in the text, ASCII letters folded."""
    folded = text.translate(_ASCII_UPPER)
    return all(word.translate(_ASCII_UPPER) in folded for word in words.split())


async def search_hits(
    incident: Incident, *, words: Sequence[str], lengths: Sequence[int], dialect: str
) -> list[list[bool]]:
    """For each of ``words``, whether the incident's text cut at each of ``lengths`` holds them:
    asked of PostgreSQL in one query, judged in Python on SQLite."""
    text = incident.search_document
    if not words:
        return []
    if dialect != "postgres":
        return [[like_holds(w, text[:length]) for length in lengths] for w in words]
    names = {
        f"hit_{i}_{j}": _FullTextMatch(w, length)
        for i, w in enumerate(words)
        for j, length in enumerate(lengths)
    }
    rows = await Incident.filter(id=incident.id).annotate(**names).values(*names)
    row = rows[0] if rows else {}
    return [[bool(row.get(f"hit_{i}_{j}")) for j in range(len(lengths))] for i in range(len(words))]
