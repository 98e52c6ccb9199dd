"""The committed SDL is the schema the code builds, and it keeps every promise of the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema
from graphql.utilities import find_breaking_changes

from gql_support.api.schema import build_schema as build_app_schema

ROOT = Path(__file__).resolve().parent.parent
#: A copy of the public API contract (JustPerform's vocabulary) that the schema must keep.
CONTRACT = ROOT / "schema" / "contract.graphql"
COMMITTED = ROOT / "schema" / "schema.graphql"


def test_committed_schema_is_the_exported_one() -> None:
    exported = build_app_schema().as_str() + "\n"
    assert COMMITTED.read_text() == exported, "run `make schema` and commit schema/schema.graphql"


def test_schema_breaks_nothing_in_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema(COMMITTED.read_text())
    assert [change.description for change in find_breaking_changes(contract, ours)] == []
