"""Opaque global IDs: base64 of ``Type:pk``, as Relay clients expect.

This module is the one place that decides what an ID may name: a known type and a primary key
the database can hold. Anything else names nothing, so it reads as null and is refused as
NOT_FOUND in an input, like the ID of a deleted row.
"""

from __future__ import annotations

import base64
import binascii
import re

import strawberry

from gql_support.db import MAX_INT
from gql_support.errors import NotFound

# ASCII digits only: int() would also take " 7", "+7", "7_0" and other scripts' digits.
_ID = re.compile(r"([A-Za-z]+):([1-9][0-9]{0,9})")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    """The type name and primary key an ID stands for, or None if it is not one of ours."""
    try:
        decoded = base64.urlsafe_b64decode(global_id.encode("ascii")).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    match = _ID.fullmatch(decoded)
    if match is None or int(match[2]) > MAX_INT:
        return None
    return match[1], int(match[2])


def decode_id(global_id: str, type_name: str, *, field: list[str]) -> int:
    """The primary key of a ``type_name`` ID given in an input, or NOT_FOUND."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        raise NotFound(f"{global_id!r} is not the ID of a {type_name}", field=field)
    return parsed[1]
