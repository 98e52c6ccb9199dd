"""The editable fields of an incident, as data: who may change each one, how its value is
checked, how its history entry reads, how it is written, and whether its text is searchable.

``RULES`` declares every field once, in the order their history entries are written. The
service runs each change request through the same few steps over it: ``clean`` (the input
alone, before any lock), ``find`` (what the request alters on the locked incident), ``authorize``
(the actor's right to each), ``check`` (the people it names), ``write``. The README's "Who may
change what" table is printed from it (``python -m gql_support.incidents.fields``).

Adding an editable field: its column on the model (and a migration), its row here with its
attribute on ``IncidentChanges``, and its field on the GraphQL input.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from gql_support.accounts.models import SUPPORT_ROLES, User
from gql_support.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound
from gql_support.incidents.changes import (
    MAX_COMMENT,
    MAX_SUPPORTERS,
    MAX_TASK,
    MAX_WATCHERS,
    IncidentChanges,
    Unset,
    check_instant,
    clean_ids,
    clean_optional_text,
    clean_references,
    clean_text,
)
from gql_support.incidents.models import (
    Incident,
    IncidentEventKind,
    IncidentStatus,
    IncidentSupporter,
    IncidentWatcher,
)
from gql_support.incidents.workflow import Party, allowed_targets, parties_of, priority_of


class Occasion(StrEnum):
    """When a change is made: the report sets fields that only managers change afterwards."""

    REPORT = "on report"
    EDIT = "after the report"


class Right(StrEnum):
    """Who may change a field (the README's words)."""

    ANYONE = "anyone signed in"
    WORKING = "manager, assignee, supporter or reporter"
    MANAGER = "manager"
    SELF = "anyone for themselves, a manager for others"
    WORKFLOW = "as the workflow table says"
    DERIVED = "derived from impact and urgency"


class Value(StrEnum):
    """What a field holds, so the API knows which ids to decode."""

    PLAIN = "plain"
    USER = "a user"
    USERS = "users"


#: Link tables behind the fields that hold several users.
Links = type[IncidentSupporter] | type[IncidentWatcher]


@dataclass(frozen=True, kw_only=True)
class Current:
    """A locked incident and its links as a change finds them (a report's: not yet saved)."""

    incident: Incident
    supporter_ids: list[int]
    watcher_ids: list[int]


def _as_is(value: Any) -> Any:
    return value


def _text(value: Any, people: Mapping[int, User]) -> str | None:
    return None if value is None else str(value)


def _name(value: int | None, people: Mapping[int, User]) -> str | None:
    return None if value is None else people[value].name


def _names(value: Collection[int], people: Mapping[int, User]) -> str:
    return ", ".join(sorted(people[user_id].name for user_id in value))


def _instant(value: datetime | None, people: Mapping[int, User]) -> str | None:
    return None if value is None else value.isoformat()


def _support_user(user: User, field: str) -> None:
    """an active agent, manager or admin"""
    if not user.is_active or user.role not in SUPPORT_ROLES:
        raise InvalidInput(
            f"{user.name} must be an active agent, manager or admin", field=["input", field]
        )


def _active_user(user: User, field: str) -> None:
    """an active user"""
    if not user.is_active:
        raise InvalidInput(f"{user.name} is not an active user", field=["input", field])


@dataclass(frozen=True, kw_only=True)
class FieldRule:
    """One editable field of an incident."""

    #: Its name in history entries and email ("assignedTo").
    name: str
    #: Its attribute on ``IncidentChanges``, on the GraphQL inputs and on the model.
    attribute: str
    event: IncidentEventKind
    on_report: Right
    on_edit: Right
    #: The input field an error about it names ("assignedToId").
    input: str = ""
    #: Ends the refusal: "only incident managers <doing>".
    doing: str = ""
    value: Value = Value.PLAIN
    #: Whether null is a value (unassigned, no due date) rather than a mistake.
    nullable: bool = True
    #: How it is written: a column of the incident, or the rows of this link table.
    links: Links | None = None
    #: Checks and normalises the input alone, before anything is read.
    clean: Callable[[Any], Any] = _as_is
    #: Checks each user the change newly puts in the field.
    check: Callable[[User, str], None] | None = None
    #: How a value reads in the history entry and the email.
    show: Callable[[Any, Mapping[int, User]], str | None] = _text
    #: Whether setting it at report time writes a history entry besides REPORTED.
    history_on_report: bool = True
    #: Whether its new text is added to the incident's search document.
    searchable: bool = False
    #: For a field computed from the others' new values (priority).
    derive: Callable[[Mapping[str, Any]], Any] | None = None

    def right(self, occasion: Occasion) -> Right:
        return self.on_report if occasion is Occasion.REPORT else self.on_edit

    def read(self, current: Current) -> Any:
        if self.links is IncidentSupporter:
            return current.supporter_ids
        if self.links is IncidentWatcher:
            return current.watcher_ids
        return getattr(current.incident, self.attribute)

    def differs(self, old: Any, new: Any) -> bool:
        if self.value is Value.USERS:
            return set(old) != set(new)
        return bool(old != new)


_K = IncidentEventKind

#: Every editable field, in the order of their history entries.
RULES: tuple[FieldRule, ...] = (
    FieldRule(
        name="assignedTo",
        attribute="assigned_to_id",
        input="assignedToId",
        event=_K.ASSIGNED,
        on_report=Right.MANAGER,
        on_edit=Right.MANAGER,
        doing="assign incidents",
        value=Value.USER,
        check=_support_user,
        show=_name,
    ),
    FieldRule(
        name="supportedBy",
        attribute="supported_by_ids",
        input="supportedByIds",
        event=_K.SUPPORTERS_CHANGED,
        on_report=Right.MANAGER,
        on_edit=Right.MANAGER,
        doing="choose who supports an incident",
        value=Value.USERS,
        nullable=False,
        links=IncidentSupporter,
        clean=lambda ids: clean_ids(ids, field="supportedByIds", limit=MAX_SUPPORTERS),
        check=_support_user,
        show=_names,
    ),
    FieldRule(
        name="watchers",
        attribute="watcher_ids",
        input="watcherIds",
        event=_K.WATCHERS_CHANGED,
        on_report=Right.ANYONE,
        on_edit=Right.SELF,
        doing="edit other people's watchlist",
        value=Value.USERS,
        nullable=False,
        links=IncidentWatcher,
        clean=lambda ids: clean_ids(ids, field="watcherIds", limit=MAX_WATCHERS),
        check=_active_user,
        show=_names,
    ),
    FieldRule(
        name="status",
        attribute="status",
        input="status",
        event=_K.STATUS_CHANGED,
        on_report=Right.WORKFLOW,
        on_edit=Right.WORKFLOW,
        nullable=False,
    ),
    FieldRule(
        name="type",
        attribute="type",
        input="type",
        event=_K.UPDATED,
        on_report=Right.ANYONE,
        on_edit=Right.WORKING,
        doing="change its type",
        nullable=False,
        history_on_report=False,
    ),
    FieldRule(
        name="task",
        attribute="task",
        input="task",
        event=_K.UPDATED,
        on_report=Right.ANYONE,
        on_edit=Right.WORKING,
        doing="change its task",
        clean=lambda text: clean_optional_text(text, field="task", limit=MAX_TASK),
        history_on_report=False,
    ),
    FieldRule(
        name="impact",
        attribute="impact",
        input="impact",
        event=_K.PRIORITY_CHANGED,
        on_report=Right.ANYONE,
        on_edit=Right.MANAGER,
        doing="change impact or urgency",
        nullable=False,
        history_on_report=False,
    ),
    FieldRule(
        name="urgency",
        attribute="urgency",
        input="urgency",
        event=_K.PRIORITY_CHANGED,
        on_report=Right.ANYONE,
        on_edit=Right.MANAGER,
        doing="change impact or urgency",
        nullable=False,
        history_on_report=False,
    ),
    FieldRule(
        name="priority",
        attribute="priority",
        event=_K.PRIORITY_CHANGED,
        on_report=Right.DERIVED,
        on_edit=Right.DERIVED,
        history_on_report=False,
        derive=lambda new: priority_of(new["impact"], new["urgency"]),
    ),
    FieldRule(
        name="dueDate",
        attribute="due_date",
        input="dueDate",
        event=_K.DUE_DATE_CHANGED,
        on_report=Right.ANYONE,
        on_edit=Right.MANAGER,
        doing="change the due date",
        clean=lambda value: check_instant(value, field=["input", "dueDate"]),
        show=_instant,
        history_on_report=False,
    ),
)


@dataclass(frozen=True, kw_only=True)
class FieldChange:
    """One field a change alters, from what to what (domain values: ids, enums, instants)."""

    rule: FieldRule
    old: Any
    new: Any


def clean(changes: IncidentChanges) -> IncidentChanges:
    """Validates every field of a change request, or raises the first problem found."""
    cleaned: dict[str, Any] = {}
    for rule in RULES:
        value = getattr(changes, rule.attribute, None)
        if rule.derive is None and not isinstance(value, Unset):
            cleaned[rule.attribute] = value if value is None else rule.clean(value)
    if changes.comment is not None:
        comment = clean_text(
            changes.comment, field="comment", limit=MAX_COMMENT, required=False, limit_in_bytes=True
        )
        cleaned["comment"] = comment or None
    cleaned["references"] = clean_references(changes.references)
    return replace(changes, **cleaned)


def find(current: Current, changes: IncidentChanges) -> list[FieldChange]:
    """The fields the request alters on this incident, in ``RULES`` order."""
    new_values: dict[str, Any] = {}
    found = []
    for rule in RULES:
        old = rule.read(current)
        if rule.derive is not None:
            new = rule.derive(new_values)
        else:
            asked = getattr(changes, rule.attribute)
            new = old if isinstance(asked, Unset) else asked
        new_values[rule.attribute] = new
        if rule.differs(old, new):
            found.append(FieldChange(rule=rule, old=old, new=new))
    return found


def authorize(
    found: Sequence[FieldChange], *, actor: User, current: Current, occasion: Occasion
) -> None:
    """Raises the refusal of the first field the actor may not change as asked."""
    parties = parties_of(actor, current.incident, current.supporter_ids)
    for change in found:
        refusal = _refusal(change, change.rule.right(occasion), actor, parties, current)
        if refusal is not None:
            raise refusal


def _refusal(
    change: FieldChange, right: Right, actor: User, parties: frozenset[Party], current: Current
) -> DomainError | None:
    rule = change.rule
    manager = f"only incident managers {rule.doing}"
    match right:
        case Right.ANYONE | Right.DERIVED:
            return None
        case Right.MANAGER if Party.MANAGER not in parties:
            return Forbidden(manager, field=["input", rule.input])
        case Right.SELF if Party.MANAGER not in parties:
            if (set(change.old) ^ set(change.new)) - {actor.id}:
                return Forbidden(manager, field=["input", rule.input])
        case Right.WORKING if not parties:
            return Forbidden(
                f"only the people working on an incident {rule.doing}", field=["input", rule.input]
            )
        case Right.WORKFLOW:
            old = IncidentStatus(change.old)
            permitted = allowed_targets(old, parties)
            if change.new not in permitted:
                number = current.incident.number
                return InvalidTransition(
                    f"you may not move incident #{number} from {old} to {change.new}; "
                    f"allowed: {', '.join(permitted) or 'none'}",
                    field=["input", rule.input],
                )
    return None


def _users(rule: FieldRule, value: Any) -> list[int]:
    """The user ids a field's value holds."""
    if rule.value is Value.USER:
        return [] if value is None else [value]
    if rule.value is Value.USERS:
        return list(value)
    return []


def users_named(found: Sequence[FieldChange]) -> set[int]:
    """Everyone the changed fields name, before or after: whom their history entries name."""
    return {u for change in found for v in (change.old, change.new) for u in _users(change.rule, v)}


def check(found: Sequence[FieldChange], people: Mapping[int, User]) -> None:
    """Checks the users a change puts in its fields: a named id that does not exist fails
    first, then each field's check of the users it newly holds."""
    for change in found:
        field = change.rule.input
        if any(user_id not in people for user_id in _users(change.rule, change.new)):
            raise NotFound(f"{field} names a user who does not exist", field=["input", field])
    for change in found:
        rule = change.rule
        if rule.check is not None:
            before = set(_users(rule, change.old))
            for user_id in _users(rule, change.new):
                if user_id not in before:
                    rule.check(people[user_id], rule.input)


def set_columns(incident: Incident, found: Sequence[FieldChange]) -> None:
    """Puts the new values of the incident's own columns on it (saved with the row)."""
    for change in found:
        if change.rule.links is None:
            setattr(incident, change.rule.attribute, change.new)


async def write_links(incident: Incident, found: Sequence[FieldChange]) -> None:
    """Replaces the link rows of the fields that hold several users."""
    for change in found:
        links = change.rule.links
        if links is None:
            continue
        removed = set(change.old) - set(change.new)
        if removed:
            await links.filter(incident_id=incident.id, user_id__in=list(removed)).delete()
        added = [user_id for user_id in change.new if user_id not in set(change.old)]
        if added:
            rows: list[Any] = [links(incident_id=incident.id, user_id=u) for u in added]
            await links.bulk_create(rows)


def render_markdown() -> str:
    """The field table as Markdown, for the README."""
    lines = [
        "| field | on report | after the report | people named must be | history entry "
        "| searchable |",
        "|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        people = "" if rule.check is None else rule.check.__doc__ or ""
        history = rule.event.value
        if not rule.history_on_report:
            history += " (after the report)"
        lines.append(
            f"| {rule.name} | {rule.on_report.value} | {rule.on_edit.value} | {people} "
            f"| {history} | {'yes' if rule.searchable else 'no'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
