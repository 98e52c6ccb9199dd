"""Limits a GraphQL document must meet before it is validated or run, so that one request
cannot hold the event loop, the database or the login form for long.

Checked in this order; each refusal is a GraphQL error whose ``extensions.code`` names it, and
no resolver runs:

    DOCUMENT_TOO_LARGE      more characters than ``max_document_chars`` (checked by the schema
                            before anything reads the document:
                            graphql-core lexes in Python, ~3 s for an 8 MB string literal)
    TOO_MANY_TOKENS         more tokens than ``max_tokens`` (Strawberry's MaxTokensLimiter: the
                            lexer stops at the first token over the limit)
    TOO_DEEP                nesting the parser cannot follow, or fields nested deeper than
                            ``max_depth`` (introspection fields aside)
    TOO_MANY_ALIASES        more aliased fields than ``max_aliases``
    TOO_MANY_DIRECTIVES     more directives than ``max_directives``
    TOO_MANY_LOGINS         more than one ``login`` (one request, one password tried)
    INTROSPECTION_DISABLED  ``__schema``/``__type`` where the settings do not allow it
    TOO_COSTLY              more than ``max_cost`` objects, counting each list at its size

**Cost.** Every field that returns an object costs 1 (``dashboard`` costs 50: it aggregates
every incident), times the size of each list around it: a field with a ``first`` argument
counts ``first`` (a literal or a variable; the default page when absent, at most the largest
page), which the ``nodes`` and ``edges`` of a connection share; a list without ``first`` counts
10. Scalars and introspection cost nothing.

Strawberry's ``MaxAliasesLimiter`` and ``QueryDepthLimiter`` are not used: they walk a fragment
anew at every spread, so twenty fragments that each spread the next one twice (about 200
tokens) keep the event loop for 5 and 21 s. Here each fragment is measured once. No maintained
cost library fits either: graphql-complexity (1.0) ignores variables (``first: $n`` costs 1),
multiplies only GraphQL list types (not a connection's page) and pins Strawberry below 0.292.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
    parse,
    validate,
)
from graphql.validation import ASTValidationRule, MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gql_support.incidents.queries import DEFAULT_PAGE, MAX_PAGE
from gql_support.settings import Settings

#: What a list without a ``first`` argument counts (watchers, references, attachments…).
UNPAGED_LIST_SIZE = 10
#: Fields that cost more than one object.
FIELD_COSTS = {("Query", "dashboard"): 50}
#: graphql-core's messages for the limits its parser enforces.
_PARSER_LIMITS = {
    "Document contains more than": "TOO_MANY_TOKENS",
    "Document is nested too deeply": "TOO_DEEP",
}


def refusal(message: str, code: str) -> GraphQLError:
    """A GraphQL error whose ``extensions.code`` names the limit."""
    return GraphQLError(message, extensions={"code": code})


@dataclass
class Measure:
    """What a selection set asks for, per unit of the lists around it."""

    aliases: int = 0
    directives: int = 0
    depth: int = 0
    logins: int = 0
    introspection: int = 0
    cost: int = 0

    def add(self, other: Measure, times: int = 1) -> None:
        self.aliases += other.aliases
        self.directives += other.directives
        self.depth = max(self.depth, other.depth)
        self.logins += other.logins
        self.introspection += other.introspection
        self.cost += times * other.cost


@dataclass
class _Walk:
    """Measures the operations of one document, each fragment once per page size."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    measured: dict[tuple[str, int | None], Measure] = field(default_factory=dict)

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
        }
        # Fragments measured for another operation may have read its variables' defaults.
        self.measured.clear()
        root = self.schema.get_root_type(operation.operation)
        measure = Measure(directives=len(operation.directives or ()))
        if root is not None:
            measure.add(self.selections(operation.selection_set, root, page=None))
        return measure

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, *, page: int | None
    ) -> Measure:
        measure = Measure()
        for selection in selection_set.selections:
            measure.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                measure.add(self.field(selection, parent, page=page))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                if inner is not None:
                    measure.add(self.selections(selection.selection_set, inner, page=page))
            elif isinstance(selection, FragmentSpreadNode):
                measure.add(self.spread(selection.name.value, page=page))
        return measure

    def spread(self, name: str, *, page: int | None) -> Measure:
        key = (name, page)
        if key in self.measured:
            return self.measured[key]
        # Marked before the walk, so a cycle (refused later by validation) ends here.
        self.measured[key] = Measure()
        fragment = self.fragments.get(name)
        if fragment is None:
            return self.measured[key]
        inner = self.schema.get_type(fragment.type_condition.name.value)
        if inner is not None:
            self.measured[key] = Measure(directives=len(fragment.directives or ()))
            self.measured[key].add(self.selections(fragment.selection_set, inner, page=page))
        return self.measured[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType, *, page: int | None) -> Measure:
        name = node.name.value
        measure = Measure(aliases=int(node.alias is not None))
        if name in {"__schema", "__type"}:
            measure.introspection = 1
        definition = _field_definition(parent, name)
        if definition is None or name.startswith("__"):
            # Unknown fields are validation's to refuse; introspection has its own depth rule.
            return measure
        if parent is self.schema.mutation_type and name == "login":
            measure.logins = 1
        named = get_named_type(definition.type)
        if node.selection_set is None or not is_composite_type(named):
            return measure
        own_page = self._page(node) if "first" in definition.args else None
        size = self._size(definition, own_page if own_page is not None else page)
        inner = self.selections(node.selection_set, named, page=own_page)
        measure.add(inner, times=size)
        measure.depth = 1 + inner.depth
        measure.cost += size * FIELD_COSTS.get((parent.name, name), 1)
        return measure

    def _page(self, node: FieldNode) -> int:
        """The page a ``first`` argument asks for, as the server will serve it."""
        value: Any = None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
        if isinstance(value, VariableNode):
            name = value.name.value
            value = self.variables[name] if name in self.variables else self.defaults.get(name)
        if isinstance(value, IntValueNode):
            value = int(value.value)
        if not isinstance(value, int) or isinstance(value, bool):
            return DEFAULT_PAGE
        return max(0, min(value, MAX_PAGE))

    @staticmethod
    def _size(definition: GraphQLField, page: int | None) -> int:
        kind = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        if not is_list_type(kind):
            return 1
        return UNPAGED_LIST_SIZE if page is None else page


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields = getattr(parent, "fields", None)
    return None if fields is None else fields.get(name)


def measure_document(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
) -> Iterator[Measure]:
    """The measure of each operation in the document."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema=schema, fragments=fragments, variables=variables)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield walk.operation(definition)


@dataclass(frozen=True)
class Limits:
    """The limits of one server, from its settings."""

    document_chars: int
    aliases: int
    directives: int
    depth: int
    cost: int
    introspection: str
    suggestions: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            document_chars=settings.max_document_chars,
            aliases=settings.max_aliases,
            directives=settings.max_directives,
            depth=settings.max_depth,
            cost=settings.max_cost,
            introspection=settings.introspection,
            suggestions=settings.suggestions,
        )

    def oversized(self, query: str | None) -> GraphQLError | None:
        """The refusal of a document too long to lex, before anything reads it."""
        if query is None or len(query) <= self.document_chars:
            return None
        return refusal(
            f"the document has {len(query)} characters; at most {self.document_chars} "
            "are allowed (send long text as variables)",
            "DOCUMENT_TOO_LARGE",
        )

    def refusals(self, measure: Measure, *, signed_in: bool) -> list[GraphQLError]:
        """An error for each limit the operation exceeds."""
        introspection_allowed = self.introspection == "everyone" or (
            self.introspection == "signed-in" and signed_in
        )
        checks = [
            (measure.depth > self.depth, "TOO_DEEP", f"fields nest deeper than {self.depth}"),
            (
                measure.aliases > self.aliases,
                "TOO_MANY_ALIASES",
                f"{measure.aliases} aliases; at most {self.aliases} are allowed",
            ),
            (
                measure.directives > self.directives,
                "TOO_MANY_DIRECTIVES",
                f"{measure.directives} directives; at most {self.directives} are allowed",
            ),
            (
                measure.logins > 1,
                "TOO_MANY_LOGINS",
                f"{measure.logins} login fields; one request may try one password",
            ),
            (
                measure.introspection > 0 and not introspection_allowed,
                "INTROSPECTION_DISABLED",
                "introspection is off"
                if self.introspection == "off"
                else "introspection needs a signed-in user: send Authorization: Bearer <token>",
            ),
            (
                measure.cost > self.cost,
                "TOO_COSTLY",
                f"this query may return {measure.cost} objects; the budget is {self.cost}: "
                "ask for smaller pages (first) or fewer nested lists",
            ),
        ]
        return [refusal(message, code) for exceeded, code, message in checks if exceeded]


#: Distinct documents kept parsed and validated: a dashboard sends the same few queries all
#: day, and parsing plus validating them again was ~9 % of a dashboard page's time.
DOCUMENT_CACHE_SIZE = 256


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _parsed(query: str, max_tokens: int | None) -> DocumentNode | None:
    """The query parsed, or None when it does not parse (Strawberry parses it again then, to
    answer with its error: failures are not cached)."""
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None


class _Same:
    """A document compared by identity: documents come from ``_parsed``, so the same query is
    the same object, and hashing a whole syntax tree on every request would cost."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.document is self.document


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def _validated(
    schema: GraphQLSchema,
    document: _Same,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> tuple[GraphQLError, ...]:
    return tuple(validate(schema, document.document, rules, hide_suggestions=hide_suggestions))


class RequestLimits(SchemaExtension):
    """Refuses documents over the limits before Strawberry validates or runs them; parses and
    validates through caches of the documents seen last."""

    def __init__(self, *, limits: Limits) -> None:
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            # Set by MaxTokensLimiter, which runs first.
            max_tokens = context.parse_options.get("max_tokens")
            context.graphql_document = _parsed(context.query, max_tokens)
        yield
        for error in self.execution_context.pre_execution_errors or ():
            code = next((c for m, c in _PARSER_LIMITS.items() if m in error.message), None)
            if code is not None:
                error.extensions = {**(error.extensions or {}), "code": code}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            schema = context.schema._schema
            signed_in = getattr(context.context, "viewer", None) is not None
            for measure in measure_document(schema, document, context.variables or {}):
                if refusals := self.limits.refusals(measure, signed_in=signed_in):
                    context.pre_execution_errors = refusals
                    break
            context.validation_rules = (*context.validation_rules, MaxIntrospectionDepthRule)
            if context.pre_execution_errors is None:
                # Strawberry's own validation can neither hide suggestions nor cache: run it
                # here, with its two extra rules, and Strawberry takes these errors as the
                # outcome.
                rules = (
                    *context.validation_rules,
                    MaybeNullValidationRule,
                    OneOfInputValidationRule,
                )
                hide = not self.limits.suggestions
                errors = _validated(schema, _Same(document), rules, hide)
                context.pre_execution_errors = list(errors)
        yield
