"""What text the server accepts from anyone: the one check every string from a client meets
before it reaches a query, a row, a hash or a response."""

from __future__ import annotations

import re

from gql_support.errors import InvalidInput

# NUL: PostgreSQL text cannot hold it. Lone surrogates: JSON can spell them ("\ud800") but they
# are not characters; no UTF-8 encoder (database driver, password hash, email) can write them.
_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def check_characters(value: str, *, field: list[str]) -> str:
    """Returns the text unchanged, or refuses it if it holds NUL or a lone surrogate."""
    if _UNSTORABLE.search(value):
        raise InvalidInput(f"{field[-1]} contains characters that are not text", field=field)
    return value
