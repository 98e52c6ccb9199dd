"""Versions and input checks, over HTTP: a stale ``expectedVersion`` changes nothing, a Save/Send
is one version and one history batch, and every limit or malformed input is refused with its
code and field, writing nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gql_support.accounts.models import Role
from tests.conftest import GraphQLClient, MakePerson, Person
from tests.documents import ADD_COMMENT, ASSIGN, REPORT, SAVE, SNAPSHOT, UPDATE_STATUS

OPERATIONS = {
    "reportIncident": REPORT,
    "assignIncident": ASSIGN,
    "updateStatus": UPDATE_STATUS,
    "saveIncident": SAVE,
    "addComment": ADD_COMMENT,
}


HISTORY = """
query History($id: ID!) {
  incident(id: $id) {
    history(first: 100) { totalCount nodes { kind field from to at actor { name } } }
  }
}
"""

MAX_DESCRIPTION = 10_000
MAX_COMMENT = 1_048_576  # 1 MiB


@dataclass
class Desk:
    """Incident #1, reported by Rita, assigned by Max to Ada with Hugo's support (version 2);
    and a crowd of 21 agents."""

    reporter: Person
    manager: Person
    agent: Person
    helper: Person
    crowd: list[Person]
    incident_id: str


@pytest.fixture
async def desk(gql: GraphQLClient, make_person: MakePerson) -> Desk:
    reporter = await make_person(Role.USER, name="Rita Reporter")
    manager = await make_person(Role.MANAGER, name="Max Manager")
    agent = await make_person(Role.AGENT, name="Ada Agent")
    helper = await make_person(Role.AGENT, name="Hugo Helper")
    crowd = [await make_person(Role.AGENT) for _ in range(21)]
    data = await gql.execute(
        REPORT, {"input": {"description": "Export to Excel times out"}}, as_=reporter
    )
    incident_id = data["reportIncident"]["incident"]["id"]
    data = await gql.execute(
        ASSIGN,
        {
            "input": {
                "incidentId": incident_id,
                "assignedToId": agent.id,
                "supportedByIds": [helper.id],
            }
        },
        as_=manager,
    )
    assert data["assignIncident"]["incident"]["version"] == 2
    return Desk(
        reporter=reporter,
        manager=manager,
        agent=agent,
        helper=helper,
        crowd=crowd,
        incident_id=incident_id,
    )


async def snapshot(gql: GraphQLClient, desk: Desk) -> dict[str, Any]:
    """Everything a change could touch, read back as the manager."""
    return await gql.execute(SNAPSHOT, {"id": desk.incident_id}, as_=desk.manager)


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    assert all(error["message"] for error in payload["errors"]), payload["errors"]
    return [(error["code"], error["field"]) for error in payload["errors"]]


# --- expectedVersion --------------------------------------------------------------------------

VERSIONED_CHANGES: dict[str, Callable[[Desk], dict[str, Any]]] = {
    "assignIncident": lambda d: {"assignedToId": d.helper.id, "supportedByIds": []},
    "updateStatus": lambda d: {"status": "IN_PROGRESS", "comment": "Starting"},
    "saveIncident": lambda d: {"impact": "HIGH", "task": "Export", "comment": "Starting"},
}


@pytest.mark.parametrize("expected_version", [1, 3])
@pytest.mark.parametrize("mutation", list(VERSIONED_CHANGES))
async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    gql: GraphQLClient, desk: Desk, mutation: str, expected_version: int
) -> None:
    # Given the incident at version 2
    before = await snapshot(gql, desk)
    assert before["incident"]["version"] == 2
    change = VERSIONED_CHANGES[mutation](desk)

    # When the manager sends a change made against another version
    data = await gql.execute(
        OPERATIONS[mutation],
        {
            "input": {
                "incidentId": desk.incident_id,
                "expectedVersion": expected_version,
                **change,
            }
        },
        as_=desk.manager,
    )

    # Then it is a conflict that says the current version, and nothing was written
    payload = data[mutation]
    assert payload["incident"] is None
    assert errors_of(payload) == [("VERSION_CONFLICT", ["input", "expectedVersion"])]
    assert "version 2" in payload["errors"][0]["message"]
    assert await snapshot(gql, desk) == before

    # And the same change made against the current version goes through
    data = await gql.execute(
        OPERATIONS[mutation],
        {"input": {"incidentId": desk.incident_id, "expectedVersion": 2, **change}},
        as_=desk.manager,
    )
    assert data[mutation]["errors"] == []
    assert data[mutation]["incident"]["version"] == 3


async def test_save_with_many_changes_is_one_version_and_one_history_batch(
    gql: GraphQLClient, desk: Desk
) -> None:
    # Given the incident at version 2
    data = await gql.execute(HISTORY, {"id": desk.incident_id}, as_=desk.manager)
    earlier = data["incident"]["history"]["totalCount"]

    # When the manager presses Save/Send with every kind of change
    data = await gql.execute(
        SAVE,
        {
            "input": {
                "incidentId": desk.incident_id,
                "expectedVersion": 2,
                "assignedToId": desk.helper.id,
                "supportedByIds": [desk.agent.id],
                "watcherIds": [desk.reporter.id],
                "status": "IN_PROGRESS",
                "type": "CHANGE_REQUEST",
                "impact": "HIGH",
                "urgency": "HIGH",
                "dueDate": "2031-01-01T09:00:00+00:00",
                "task": "Export",
                "comment": "All at once",
                "references": [{"label": "Runbook", "url": "https://wiki.example.com/rb"}],
            }
        },
        as_=desk.manager,
    )

    # Then the version moves by exactly one
    payload = data["saveIncident"]
    assert payload["errors"] == []
    assert payload["incident"]["version"] == 3

    # And the history gains one batch: one entry per changed field, same actor, same instant
    data = await gql.execute(HISTORY, {"id": desk.incident_id}, as_=desk.manager)
    history = data["incident"]["history"]
    batch = history["nodes"][earlier:]
    assert [(e["kind"], e["field"]) for e in batch] == [
        ("ASSIGNED", "assignedTo"),
        ("SUPPORTERS_CHANGED", "supportedBy"),
        ("WATCHERS_CHANGED", "watchers"),
        ("STATUS_CHANGED", "status"),
        ("UPDATED", "type"),
        ("UPDATED", "task"),
        ("PRIORITY_CHANGED", "impact"),
        ("PRIORITY_CHANGED", "urgency"),
        ("PRIORITY_CHANGED", "priority"),
        ("DUE_DATE_CHANGED", "dueDate"),
        ("COMMENTED", None),
        ("REFERENCE_ADDED", "references"),
    ]
    assert history["totalCount"] == earlier + len(batch)
    assert {e["at"] for e in batch} == {batch[0]["at"]}
    assert {e["actor"]["name"] for e in batch} == {"Max Manager"}


@pytest.mark.parametrize("actor", ["manager", "reporter"])
async def test_saving_the_form_unchanged_does_not_bump_the_version(
    gql: GraphQLClient, desk: Desk, actor: str
) -> None:
    # Given the incident with a due date, and a person holding its window open
    data = await gql.execute(
        SAVE,
        {"input": {"incidentId": desk.incident_id, "dueDate": "2031-01-01T09:00:00+00:00"}},
        as_=desk.manager,
    )
    assert data["saveIncident"]["incident"]["version"] == 3
    before = await snapshot(gql, desk)

    # When they press Save/Send with every field as it is (the due date in another offset,
    # the comment blank)
    data = await gql.execute(
        SAVE,
        {
            "input": {
                "incidentId": desk.incident_id,
                "expectedVersion": 3,
                "assignedToId": desk.agent.id,
                "supportedByIds": [desk.helper.id],
                "watcherIds": [],
                "status": "NEW",
                "type": "DEFECT",
                "impact": "MEDIUM",
                "urgency": "MEDIUM",
                "dueDate": "2031-01-01T10:00:00+01:00",
                "task": None,
                "comment": "   ",
                "references": [],
            }
        },
        as_=getattr(desk, actor),
    )

    # Then it succeeds without a new version or any history
    payload = data["saveIncident"]
    assert payload["errors"] == []
    assert payload["incident"]["version"] == 3
    assert await snapshot(gql, desk) == before


# --- input limits and malformed input ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A mutation sent with bad input, and the error it must give."""

    mutation: str
    input: Callable[[Desk], dict[str, Any]]
    code: str
    field: str
    actor: str = "manager"


def _refs(n: int, url: str = "https://wiki.example.com/page") -> list[dict[str, str]]:
    return [{"label": f"Page {i}", "url": url} for i in range(n)]


BAD_INPUT = {
    "report-blank-description": Case(
        "reportIncident", lambda d: {"description": " \n\t "}, "INVALID_INPUT", "description"
    ),
    "report-empty-description": Case(
        "reportIncident", lambda d: {"description": ""}, "INVALID_INPUT", "description"
    ),
    "report-description-over-10000": Case(
        "reportIncident",
        lambda d: {"description": "x" * (MAX_DESCRIPTION + 1)},
        "TOO_LARGE",
        "description",
        actor="reporter",
    ),
    "report-description-with-nul": Case(
        "reportIncident", lambda d: {"description": "a\x00b"}, "INVALID_INPUT", "description"
    ),
    "report-comment-over-1MiB": Case(
        "reportIncident",
        lambda d: {"description": "Slow", "comment": "x" * (MAX_COMMENT + 1)},
        "TOO_LARGE",
        "comment",
        actor="reporter",
    ),
    "add-comment-over-1MiB": Case(
        "addComment", lambda d: {"body": "x" * (MAX_COMMENT + 1)}, "TOO_LARGE", "body"
    ),
    # 1 MiB is a size in bytes: 524,289 two-byte characters are over it.
    "add-comment-over-1MiB-of-utf8": Case(
        "addComment", lambda d: {"body": "é" * (MAX_COMMENT // 2 + 1)}, "TOO_LARGE", "body"
    ),
    "add-comment-blank": Case("addComment", lambda d: {"body": "  "}, "INVALID_INPUT", "body"),
    "save-comment-over-1MiB": Case(
        "saveIncident", lambda d: {"comment": "x" * (MAX_COMMENT + 1)}, "TOO_LARGE", "comment"
    ),
    "status-comment-over-1MiB": Case(
        "updateStatus",
        lambda d: {"status": "IN_PROGRESS", "comment": "x" * (MAX_COMMENT + 1)},
        "TOO_LARGE",
        "comment",
    ),
    "add-comment-javascript-url": Case(
        "addComment",
        lambda d: {"body": "See", "references": _refs(1, "javascript:alert(1)")},
        "INVALID_INPUT",
        "references",
    ),
    "save-javascript-url-uppercase": Case(
        "saveIncident",
        lambda d: {"references": _refs(1, "JavaScript:alert(document.cookie)")},
        "INVALID_INPUT",
        "references",
    ),
    "report-javascript-url": Case(
        "reportIncident",
        lambda d: {"description": "Slow", "references": _refs(1, "javascript:alert(1)")},
        "INVALID_INPUT",
        "references",
        actor="reporter",
    ),
    "add-comment-ftp-url": Case(
        "addComment",
        lambda d: {"body": "See", "references": _refs(1, "ftp://files.example.com/a")},
        "INVALID_INPUT",
        "references",
    ),
    "add-comment-url-without-host": Case(
        "addComment",
        lambda d: {"body": "See", "references": _refs(1, "https:///path")},
        "INVALID_INPUT",
        "references",
    ),
    "add-comment-url-over-2048": Case(
        "addComment",
        lambda d: {"body": "See", "references": _refs(1, "https://e.com/" + "a" * 2040)},
        "TOO_LARGE",
        "references",
    ),
    "add-comment-blank-label": Case(
        "addComment",
        lambda d: {"body": "See", "references": [{"label": " ", "url": None}]},
        "INVALID_INPUT",
        "references",
    ),
    "add-comment-21-references": Case(
        "addComment", lambda d: {"body": "See", "references": _refs(21)}, "TOO_LARGE", "references"
    ),
    "save-21-references": Case(
        "saveIncident", lambda d: {"references": _refs(21)}, "TOO_LARGE", "references"
    ),
    "report-21-references": Case(
        "reportIncident",
        lambda d: {"description": "Slow", "references": _refs(21)},
        "TOO_LARGE",
        "references",
        actor="reporter",
    ),
    "assign-21-supporters": Case(
        "assignIncident",
        lambda d: {"assignedToId": d.agent.id, "supportedByIds": [p.id for p in d.crowd]},
        "TOO_LARGE",
        "supportedByIds",
    ),
    "save-21-supporters": Case(
        "saveIncident",
        lambda d: {"supportedByIds": [p.id for p in d.crowd]},
        "TOO_LARGE",
        "supportedByIds",
    ),
    "report-21-supporters": Case(
        "reportIncident",
        lambda d: {"description": "Slow", "supportedByIds": [p.id for p in d.crowd]},
        "TOO_LARGE",
        "supportedByIds",
    ),
    "save-task-over-500": Case("saveIncident", lambda d: {"task": "t" * 501}, "TOO_LARGE", "task"),
    "save-task-with-newline": Case(
        "saveIncident", lambda d: {"task": "Step 1\nStep 2"}, "INVALID_INPUT", "task"
    ),
    "save-due-date-without-offset": Case(
        "saveIncident", lambda d: {"dueDate": "2031-01-01T09:00:00"}, "INVALID_INPUT", "dueDate"
    ),
    "report-due-date-without-offset": Case(
        "reportIncident",
        lambda d: {"description": "Slow", "dueDate": "2031-01-01T09:00:00"},
        "INVALID_INPUT",
        "dueDate",
        actor="reporter",
    ),
    "save-null-status": Case("saveIncident", lambda d: {"status": None}, "INVALID_INPUT", "status"),
    "save-null-type": Case("saveIncident", lambda d: {"type": None}, "INVALID_INPUT", "type"),
    "save-null-impact": Case("saveIncident", lambda d: {"impact": None}, "INVALID_INPUT", "impact"),
    "save-null-urgency": Case(
        "saveIncident", lambda d: {"urgency": None}, "INVALID_INPUT", "urgency"
    ),
    "save-null-status-with-other-changes": Case(
        "saveIncident",
        lambda d: {"status": None, "task": "Export", "comment": "Hello", "impact": "HIGH"},
        "INVALID_INPUT",
        "status",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT.values()), ids=list(BAD_INPUT))
async def test_bad_input_is_refused_with_its_code_and_field_and_writes_nothing(
    gql: GraphQLClient, desk: Desk, case: Case
) -> None:
    # Given the incident as it stands
    before = await snapshot(gql, desk)
    fields = case.input(desk)
    if case.mutation != "reportIncident":
        fields = {"incidentId": desk.incident_id, **fields}

    # When the bad input is sent
    data = await gql.execute(
        OPERATIONS[case.mutation], {"input": fields}, as_=getattr(desk, case.actor)
    )

    # Then it is refused with the code and the path of the field at fault
    payload = data[case.mutation]
    assert payload["incident"] is None
    assert errors_of(payload) == [(case.code, ["input", case.field])]

    # And nothing was written: no incident, version, comment, reference or history entry
    assert await snapshot(gql, desk) == before


GOOD_INPUT = {
    "report-description-of-10000": (
        "reportIncident",
        lambda d: {"description": "d" * MAX_DESCRIPTION},
    ),
    "report-padded-description-of-10000": (
        "reportIncident",
        lambda d: {"description": "  " + "d" * MAX_DESCRIPTION + "\n"},
    ),
    "add-comment-of-1MiB": ("addComment", lambda d: {"body": "c" * MAX_COMMENT}),
    "add-comment-20-references": ("addComment", lambda d: {"body": "See", "references": _refs(20)}),
    "assign-20-supporters": (
        "assignIncident",
        lambda d: {"assignedToId": d.agent.id, "supportedByIds": [p.id for p in d.crowd[:20]]},
    ),
    "save-task-of-500": ("saveIncident", lambda d: {"task": "t" * 500}),
    "save-due-date-with-offset": (
        "saveIncident",
        lambda d: {"dueDate": "2031-01-01T09:00:00-05:00"},
    ),
}


@pytest.mark.parametrize(("mutation", "build"), list(GOOD_INPUT.values()), ids=list(GOOD_INPUT))
async def test_input_at_the_limit_is_accepted(
    gql: GraphQLClient,
    desk: Desk,
    mutation: str,
    build: Callable[[Desk], dict[str, Any]],
) -> None:
    fields = build(desk)
    if mutation != "reportIncident":
        fields = {"incidentId": desk.incident_id, **fields}

    data = await gql.execute(OPERATIONS[mutation], {"input": fields}, as_=desk.manager)

    payload = data[mutation]
    assert payload["errors"] == []
    after = await snapshot(gql, desk)
    if mutation == "reportIncident":
        assert payload["incident"]["version"] == 1
        assert after["incidents"]["totalCount"] == 2
    else:
        assert after["incident"]["version"] == 3
