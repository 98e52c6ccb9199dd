"""Opaque global IDs: base64 of ``Type:pk``, as Relay clients expect."""

from __future__ import annotations

import base64
import binascii

import strawberry

from gql_support.errors import NotFound


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    """The type name and primary key an ID stands for, or None if it is not one of ours."""
    try:
        type_name, _, pk = base64.urlsafe_b64decode(global_id.encode()).decode().partition(":")
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def decode_id(global_id: str, type_name: str, *, field: list[str]) -> int:
    """The primary key of a ``type_name`` ID given in an input, or NOT_FOUND."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        raise NotFound(f"{global_id!r} is not the ID of a {type_name}", field=field)
    return parsed[1]
