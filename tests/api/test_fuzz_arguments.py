"""Every argument of every query and mutation, fuzzed over HTTP on both databases.

The positions come from the schema itself: each argument, each field of an input object inside
it, and each argument of a field reached through ``node(id:)``. At each position Hypothesis
throws hostile values (lone surrogates, NUL, huge text, huge and negative numbers, floats, forged
IDs and cursors, dates at the edges of time, values of the wrong type) while the other required
arguments hold valid values naming a real incident, as a signed-in manager. Whatever it sends,
the answer is a client error or a success: no 5xx, no "Unexpected error.", and every error
raised by a resolver carries a code (errors without a path are graphql-core's own parsing,
validation and coercion errors).

Real random, not derandomized: each run explores new values, and a failure prints its example
and a ``@reproduce_failure`` blob. Tests write only under temporary directories: no Hypothesis
database, and its caches go to a temporary folder. ``GQL_SUPPORT_TEST_FUZZ_EXAMPLES`` (default
30) sets the examples per position; one test (and one database) per field sends them all.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import graphql
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gql_support.accounts.models import Role
from gql_support.api.schema import build_schema
from gql_support.settings import Settings
from tests.api.hostile import assert_client_error_only, post_raw
from tests.conftest import GraphQLClient, MakePerson, Person
from tests.documents import ADD_COMMENT, REPORT
from tests.fuzz_tally import count

#: The schema as clients see it, rebuilt from its SDL.
SCHEMA: GraphQLSchema = graphql.build_schema(build_schema().as_str())
EXAMPLES_PER_POSITION = int(os.environ.get("GQL_SUPPORT_TEST_FUZZ_EXAMPLES", "30"))
#: Object types whose arguments are fuzzed through ``node(id:)``: the desk has one of each.
REACHABLE_BY_NODE = ("Incident",)
#: Files travel as multipart parts, not JSON values: the upload tests cover them.
SKIPPED_SCALARS = ("Upload",)
#: How deep the selection of each answer goes: through a page to the fields of its items.
SELECTION_DEPTH = 2


@dataclass(frozen=True)
class Position:
    """One place a client can put a value: ``path`` is the argument, then the input fields
    inside it, of ``field`` on ``parent`` (a root type, or a type reached through node)."""

    parent: str
    field: str
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.parent}.{self.field}({'.'.join(self.path)})"


def _leaf_paths(type_: GraphQLInputType, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    named = get_named_type(type_)
    if isinstance(named, GraphQLInputObjectType):
        return [p for name, f in named.fields.items() for p in _leaf_paths(f.type, (*path, name))]
    if isinstance(named, GraphQLScalarType) and named.name in SKIPPED_SCALARS:
        return []
    return [path]


def _fields_with_arguments(parent: GraphQLObjectType) -> list[tuple[str, GraphQLField]]:
    return [(name, f) for name, f in parent.fields.items() if f.args]


def _positions() -> list[Position]:
    positions = []
    roots = [SCHEMA.query_type, SCHEMA.mutation_type]
    nested = [SCHEMA.get_type(name) for name in REACHABLE_BY_NODE]
    for parent in [*roots, *nested]:
        assert isinstance(parent, GraphQLObjectType)
        for field_name, field in _fields_with_arguments(parent):
            for arg_name, arg in field.args.items():
                for path in _leaf_paths(arg.type, (arg_name,)):
                    positions.append(Position(parent.name, field_name, path))
    return positions


POSITIONS = _positions()
#: The positions of each field, e.g. "Mutation.saveIncident": one test (and database) per field.
FIELDS: dict[str, list[Position]] = {}
for _position in POSITIONS:
    FIELDS.setdefault(f"{_position.parent}.{_position.field}", []).append(_position)


def _input_type_at(position: Position) -> GraphQLInputType:
    type_: GraphQLInputType = _field(position).args[position.path[0]].type
    for name in position.path[1:]:
        named = get_named_type(type_)
        assert isinstance(named, GraphQLInputObjectType)
        type_ = named.fields[name].type
    return type_


def _field(position: Position) -> GraphQLField:
    parent = SCHEMA.get_type(position.parent)
    assert isinstance(parent, GraphQLObjectType)
    field: GraphQLField = parent.fields[position.field]
    return field


# --- the document -------------------------------------------------------------------------


def _selection(type_: GraphQLOutputType, depth: int) -> str:
    """Every field without required arguments, ``depth`` object levels deep."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType) or depth == 0:
        return "{ __typename }"
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(_required(arg.type, arg.default_value) for arg in field.args.values()):
            continue
        parts.append(f"{name} {_selection(field.type, depth - 1)}".strip())
    return "{ " + " ".join(parts) + " }"


def _document(position: Position) -> str:
    field = _field(position)
    declared = {f"${name}: {arg.type}" for name, arg in field.args.items()}
    passed = ", ".join(f"{name}: ${name}" for name in field.args)
    call = f"{position.field}({passed}) {_selection(field.type, SELECTION_DEPTH)}"
    if position.parent == "Query":
        return f"query Fuzz({', '.join(sorted(declared))}) {{ {call} }}"
    if position.parent == "Mutation":
        return f"mutation Fuzz({', '.join(sorted(declared))}) {{ {call} }}"
    variables = ", ".join(sorted(declared | {"$nodeId: ID!"}))
    on_node = f"node(id: $nodeId) {{ ... on {position.parent} {{ {call} }} }}"
    return f"query Fuzz({variables}) {{ {on_node} }}"


# --- valid values for the other arguments -------------------------------------------------


@dataclass(frozen=True)
class Desk:
    manager: Person
    incident_id: str


def _required(type_: GraphQLInputType, default: Any) -> bool:
    return isinstance(type_, GraphQLNonNull) and default is Undefined


def _valid(type_: GraphQLInputType, name: str, desk: Desk) -> Any:
    """A value of the type that the server accepts, for the position called ``name``."""
    nullable = get_nullable_type(type_)
    if isinstance(nullable, GraphQLList):
        return [_valid(nullable.of_type, name, desk)]
    if isinstance(nullable, GraphQLInputObjectType):
        return {
            field_name: _valid(field.type, field_name, desk)
            for field_name, field in nullable.fields.items()
            if _required(field.type, field.default_value)
        }
    if isinstance(nullable, GraphQLEnumType):
        return next(iter(nullable.values))
    scalar = {
        "Int": 1,
        "Float": 1.0,
        "Boolean": True,
        "DateTime": "2030-01-31T17:00:00Z",
    }
    if nullable.name in scalar:
        return scalar[nullable.name]
    if nullable.name == "ID":
        return desk.incident_id if name in ("id", "incidentId") else desk.manager.id
    if name == "email":
        return desk.manager.user.email
    return "Printer on fire"


def _with_value(type_: GraphQLInputType, path: list[str], value: Any, desk: Desk) -> Any:
    """A value of the type, valid except at ``path``, where it holds ``value``."""
    if not path:
        return value
    nullable = get_nullable_type(type_)
    if isinstance(nullable, GraphQLList):
        return [_with_value(nullable.of_type, path, value, desk)]
    assert isinstance(nullable, GraphQLInputObjectType)
    head, *rest = path
    filled = _valid(nullable, head, desk)
    filled[head] = _with_value(nullable.fields[head].type, rest, value, desk)
    return filled


def _variables(position: Position, value: Any, desk: Desk) -> dict[str, Any]:
    field = _field(position)
    variables = {
        name: _valid(arg.type, name, desk)
        for name, arg in field.args.items()
        if _required(arg.type, arg.default_value)
    }
    arg_name, *rest = position.path
    variables[arg_name] = _with_value(field.args[arg_name].type, rest, value, desk)
    if position.parent not in ("Query", "Mutation"):
        variables["nodeId"] = desk.incident_id
    return variables


# --- hostile values -----------------------------------------------------------------------


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


EDGE_INTS = st.sampled_from(
    [0, -1, 2**15, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30]
)
NUMBERS = st.one_of(
    EDGE_INTS,
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
)
#: Every code point, lone surrogates included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
#: Words in one string: far past the search word limit, which must refuse them before any
#: search condition is built (60,000 once overflowed the stack that builds SQLite's).
MANY_WORDS = 100_000
NASTY_TEXT = st.one_of(
    st.sampled_from(["", " ", "\x00", "\ud800", "a\udfffb", "\u202e", "\ufeff", "%", "_", "\\"]),
    st.builds(
        lambda char, size: char * size,
        st.sampled_from(["x", "\x00", "\ud800", "\u00e9"]),
        st.integers(min_value=255, max_value=300_000),
    ),
    st.builds(lambda size: "word " * size, st.integers(min_value=2, max_value=MANY_WORDS)),
)
TYPE_NAMES = st.sampled_from(["Incident", "User", "Comment", "Reference", "Attachment", "Nope"])
FORGED_IDS = st.one_of(
    st.builds(lambda t, n: _encode(f"{t}:{n}"), TYPE_NAMES, st.one_of(NUMBERS, TEXT)),
    st.builds(_encode, TEXT),
)
DATES = st.builds(
    lambda y, mo, d, h, mi, zone: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:00{zone}",
    st.integers(1, 9999),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.one_of(
        st.just(""),
        st.just("Z"),
        st.builds(
            lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
            st.sampled_from("+-"),
            st.integers(0, 23),
            st.integers(0, 59),
        ),
    ),
)
JSON_ITEMS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    TEXT,
    DATES,
    st.sampled_from(["NUMBER", "PRIORITY", "STATUS", "DUE_DATE", "CREATED_AT", "UPDATED_AT"]),
)
FORGED_CURSORS = st.one_of(
    st.builds(lambda items: _encode(json.dumps(items)), st.lists(JSON_ITEMS, max_size=4)),
    st.builds(lambda item: _encode(json.dumps(item)), st.dictionaries(TEXT, JSON_ITEMS)),
)
STRINGS = st.one_of(TEXT, NASTY_TEXT, FORGED_IDS, FORGED_CURSORS, DATES)
ENUM_NAMES = st.sampled_from(
    sorted(
        {
            value
            for type_ in SCHEMA.type_map.values()
            if isinstance(type_, GraphQLEnumType) and not type_.name.startswith("__")
            for value in type_.values
        }
    )
)


def _hostile(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    """Values for the leaf type: mostly of its kind, some of any other kind, some null."""
    nullable = get_nullable_type(type_)
    named = get_named_type(type_)
    if isinstance(named, GraphQLEnumType):
        own: st.SearchStrategy[Any] = ENUM_NAMES
    elif named.name in ("Int", "Float"):
        own = NUMBERS
    elif named.name == "Boolean":
        own = st.booleans()
    elif named.name == "DateTime":
        own = st.one_of(DATES, NASTY_TEXT)
    else:
        own = STRINGS
    anything = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
    value = st.one_of(own, own, anything)
    if isinstance(nullable, GraphQLList):
        return st.one_of(value, st.lists(value, max_size=3))
    return value


# --- the test -----------------------------------------------------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's database with rate limits no fuzz run reaches: a refusal for going too fast
    would hide what the values themselves do."""
    return settings.model_copy(
        update={
            "writes_per_minute": 1_000_000.0,
            "write_burst": 1_000_000,
            "login_free_attempts": 1_000_000,
            "login_free_attempts_per_address": 1_000_000,
        }
    )


@pytest.fixture
async def desk(gql: GraphQLClient, make_person: MakePerson) -> Desk:
    """A manager and an incident with a comment: something for every ID to name."""
    manager = await make_person(Role.MANAGER)
    reported = await gql.execute(REPORT, {"input": {"description": "Printer on fire"}}, as_=manager)
    incident_id: str = reported["reportIncident"]["incident"]["id"]
    await gql.execute(
        ADD_COMMENT, {"input": {"incidentId": incident_id, "body": "Hot"}}, as_=manager
    )
    return Desk(manager=manager, incident_id=incident_id)


def test_every_field_with_arguments_is_reached() -> None:
    # A new type with arguments on its fields must be added to REACHABLE_BY_NODE (or reached
    # another way), or its arguments would escape the fuzzing below.
    with_arguments = {
        type_.name
        for type_ in SCHEMA.type_map.values()
        if isinstance(type_, GraphQLObjectType)
        and not type_.name.startswith("__")
        and _fields_with_arguments(type_)
    }
    roots = {SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type}
    assert with_arguments - {t.name for t in roots if t} <= set(REACHABLE_BY_NODE)


@pytest.mark.parametrize("field", FIELDS, ids=list(FIELDS))
@hypothesis_settings(
    max_examples=EXAMPLES_PER_POSITION,
    deadline=None,
    database=None,
    print_blob=True,
    # The desk and its database are made once per field, not per example, on purpose: the
    # examples share them (and may change them), as clients share a server.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_argument_value_breaks_the_server(
    gql: GraphQLClient, desk: Desk, field: str, data: st.DataObject
) -> None:
    # Each example sends one hostile value at every position of the field, in turn
    for position in FIELDS[field]:
        value = data.draw(_hostile(_input_type_at(position)), label=position.name)

        # When a manager sends it, the rest of the arguments valid
        response = await post_raw(
            gql, _document(position), _variables(position, value, desk), as_=desk.manager
        )

        # Then the server answers without failing
        assert_client_error_only(response)
        count(f"argument fuzzer: values sent, answered {response.status_code}")
