"""Who gets which email, as data: the rule table the outbox enforces and the README prints.

For each kind of change, ``RULES`` lists how a person may be concerned and the email that
gives them, first match wins, so each person gets at most one email per committed change.
Two rules hold for every row: the person who made the change is never told about it (except
the reporter's receipt), and inactive users are never emailed.
``python -m gql_support.notify.recipients`` renders the table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from gql_support.notify.models import NoticeReason


class ChangeKind(StrEnum):
    REPORT = "report"  # a new incident
    CHANGE = "change"  # assignment, status, comment, reference, Save/Send
    DUE_SOON = "due soon"  # the due date is within the lead time (sent by the worker)
    OVERDUE = "overdue"  # the due date has passed (sent by the worker)


class Concern(StrEnum):
    """How a person stands to a change."""

    REPORTER = "reporter"
    NEW_ASSIGNEE = "newly Assigned To"
    NEW_SUPPORTER = "newly added to Supported By"
    ASSIGNEE = "Assigned To"
    SUPPORTER = "Supported By"
    WATCHER = "on the watchlist"
    MANAGER = "incident manager (role MANAGER)"
    FORMER_ASSIGNEE = "just taken off Assigned To or Supported By"


_C, _R = Concern, NoticeReason

#: RULES[kind] = (concern, email) pairs in order of precedence.
RULES: dict[ChangeKind, tuple[tuple[Concern, NoticeReason], ...]] = {
    ChangeKind.REPORT: (
        (_C.REPORTER, _R.RECEIPT),
        (_C.ASSIGNEE, _R.REPORTED),
        (_C.SUPPORTER, _R.REPORTED),
        (_C.WATCHER, _R.REPORTED),
        (_C.MANAGER, _R.REPORTED),
    ),
    ChangeKind.CHANGE: (
        (_C.NEW_ASSIGNEE, _R.ASSIGNED),
        (_C.NEW_SUPPORTER, _R.ASSIGNED),
        (_C.REPORTER, _R.UPDATED),
        (_C.ASSIGNEE, _R.UPDATED),
        (_C.SUPPORTER, _R.UPDATED),
        (_C.WATCHER, _R.UPDATED),
        (_C.FORMER_ASSIGNEE, _R.UPDATED),
    ),
    ChangeKind.DUE_SOON: (
        (_C.ASSIGNEE, _R.DUE_SOON),
        (_C.SUPPORTER, _R.DUE_SOON),
    ),
    ChangeKind.OVERDUE: (
        (_C.ASSIGNEE, _R.OVERDUE),
        (_C.MANAGER, _R.OVERDUE),
    ),
}

#: Emails the actor still gets about their own change.
SENT_TO_ACTOR = frozenset({NoticeReason.RECEIPT})


@dataclass(frozen=True, kw_only=True)
class Involvement:
    """Who stood where around one change, by user id (after the change, unless named before)."""

    kind: ChangeKind
    #: Who made the change; none for what the worker sends on its own.
    actor_id: int | None
    reporter_id: int
    assignee_id: int | None
    supporter_ids: Collection[int]
    watcher_ids: Collection[int]
    manager_ids: Collection[int] = ()
    assignee_before: int | None = None
    supporters_before: Collection[int] = ()

    def people(self, concern: Concern) -> Iterable[int]:
        """The ids of everyone concerned in this way."""
        assignee = () if self.assignee_id is None else (self.assignee_id,)
        match concern:
            case Concern.REPORTER:
                return (self.reporter_id,)
            case Concern.ASSIGNEE:
                return assignee
            case Concern.SUPPORTER:
                return self.supporter_ids
            case Concern.WATCHER:
                return self.watcher_ids
            case Concern.MANAGER:
                return self.manager_ids
            case Concern.NEW_ASSIGNEE:
                return () if self.assignee_id == self.assignee_before else assignee
            case Concern.NEW_SUPPORTER:
                return set(self.supporter_ids) - set(self.supporters_before)
            case Concern.FORMER_ASSIGNEE:
                before = set(self.supporters_before)
                if self.assignee_before is not None:
                    before.add(self.assignee_before)
                current = set(self.supporter_ids) | set(assignee)
                return before - current


def recipients(involvement: Involvement, active_ids: Collection[int]) -> dict[int, NoticeReason]:
    """Each user to email about the change (or the due date), with the email they get, by the
    rule table."""
    chosen: dict[int, NoticeReason] = {}
    for concern, reason in RULES[involvement.kind]:
        for user_id in sorted(involvement.people(concern)):
            if user_id in chosen or user_id not in active_ids:
                continue
            if user_id == involvement.actor_id and reason not in SENT_TO_ACTOR:
                continue
            chosen[user_id] = reason
    return chosen


def render_markdown() -> str:
    """The rule table as Markdown, for the README."""
    lines = ["| change | who, in order of precedence | email |", "|---|---|---|"]
    for kind, rules in RULES.items():
        for concern, reason in rules:
            lines.append(f"| {kind.value} | {concern.value} | {reason.value} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
