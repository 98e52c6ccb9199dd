"""The status workflow and the priority matrix, as data.

The service enforces them, ``allowedTransitions`` reads them, and the README prints them
(``python -m gql_support.incidents.workflow`` renders the tables).
"""

from __future__ import annotations

from collections.abc import Collection, Set
from enum import StrEnum
from typing import Protocol

from gql_support.accounts.models import User
from gql_support.incidents.models import Impact, IncidentStatus, Priority, Urgency


class HasParties(Protocol):
    """What ``parties_of`` reads of an incident: a model, or the API's plain values of one."""

    @property
    def reporter_id(self) -> int: ...

    @property
    def assigned_to_id(self) -> int | None: ...


class Party(StrEnum):
    """How a person stands to an incident, for the workflow's who-may-do-what."""

    MANAGER = "manager"  # role MANAGER or ADMIN
    ASSIGNEE = "assignee"  # the Assigned To agent
    SUPPORTER = "supporter"  # one of the Supported By helpers
    REPORTER = "reporter"  # who raised the incident


_S = IncidentStatus
_M, _A, _SUP, _R = Party.MANAGER, Party.ASSIGNEE, Party.SUPPORTER, Party.REPORTER
_WORKERS = frozenset({_M, _A})

#: TRANSITIONS[from][to] = the parties that may make that move. A move not listed does not exist.
TRANSITIONS: dict[IncidentStatus, dict[IncidentStatus, frozenset[Party]]] = {
    _S.NEW: {
        _S.IN_PROGRESS: _WORKERS,
        _S.ON_HOLD: _WORKERS,
        _S.REJECTED: frozenset({_M}),
        _S.CLOSED: frozenset({_M}),
    },
    _S.IN_PROGRESS: {
        _S.RETESTING: frozenset({_M, _A, _SUP}),
        _S.RESOLVED: _WORKERS,
        _S.ON_HOLD: _WORKERS,
        _S.REJECTED: frozenset({_M}),
        _S.CLOSED: frozenset({_M}),
    },
    _S.RETESTING: {
        # The reporter re-tests: confirms the fix, or sends it back.
        _S.RESOLVED: frozenset({_M, _A, _R}),
        _S.IN_PROGRESS: frozenset({_M, _A, _SUP, _R}),
        _S.ON_HOLD: _WORKERS,
    },
    _S.ON_HOLD: {
        _S.IN_PROGRESS: _WORKERS,
        _S.REJECTED: frozenset({_M}),
        _S.CLOSED: frozenset({_M}),
    },
    # Finished incidents can be reopened; the reporter may reopen what was declared resolved.
    _S.RESOLVED: {_S.IN_PROGRESS: frozenset({_M, _R})},
    _S.CLOSED: {_S.IN_PROGRESS: frozenset({_M})},
    _S.REJECTED: {_S.IN_PROGRESS: frozenset({_M})},
}


def parties_of(
    user: User, incident: HasParties, supporter_ids: Collection[int]
) -> frozenset[Party]:
    """How the user stands to the incident: manager, assignee, supporter, reporter."""
    parties = set()
    if user.is_manager:
        parties.add(Party.MANAGER)
    if incident.assigned_to_id == user.id:
        parties.add(Party.ASSIGNEE)
    if user.id in supporter_ids:
        parties.add(Party.SUPPORTER)
    if incident.reporter_id == user.id:
        parties.add(Party.REPORTER)
    return frozenset(parties)


def allowed_targets(status: IncidentStatus, parties: Set[Party]) -> list[IncidentStatus]:
    """The statuses someone standing as ``parties`` may move an incident to, in workflow order."""
    moves = TRANSITIONS[status]
    return [target for target in IncidentStatus if moves.get(target, frozenset()) & parties]


_P = Priority
#: PRIORITY_MATRIX[impact][urgency]: the ITIL-style priority matrix (HIGH x HIGH = URGENT).
PRIORITY_MATRIX: dict[Impact, dict[Urgency, Priority]] = {
    Impact.HIGH: {Urgency.HIGH: _P.URGENT, Urgency.MEDIUM: _P.HIGH, Urgency.LOW: _P.NORMAL},
    Impact.MEDIUM: {Urgency.HIGH: _P.HIGH, Urgency.MEDIUM: _P.NORMAL, Urgency.LOW: _P.LOW},
    Impact.LOW: {Urgency.HIGH: _P.NORMAL, Urgency.MEDIUM: _P.LOW, Urgency.LOW: _P.LOW},
}


def priority_of(impact: Impact, urgency: Urgency) -> Priority:
    """The priority that an impact and an urgency give."""
    return PRIORITY_MATRIX[impact][urgency]


def render_markdown() -> str:
    """The workflow and priority tables as Markdown, for the README."""
    lines = ["| from \\ to | " + " | ".join(s.value for s in IncidentStatus) + " |"]
    lines.append("|---" * (len(IncidentStatus) + 1) + "|")
    for source in IncidentStatus:
        cells = []
        for target in IncidentStatus:
            parties = TRANSITIONS[source].get(target)
            cells.append(", ".join(p.value for p in Party if p in parties) if parties else "")
        lines.append(f"| **{source.value}** | " + " | ".join(cells) + " |")
    lines += ["", "| impact \\ urgency | " + " | ".join(u.value for u in Urgency) + " |"]
    lines.append("|---" * (len(Urgency) + 1) + "|")
    for impact in Impact:
        row = " | ".join(PRIORITY_MATRIX[impact][u].value for u in Urgency)
        lines.append(f"| **{impact.value}** | {row} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
