"""Who may do what, over HTTP: every role against every mutation, allowed or refused.

Each refusal is followed by reading the incident back, to show that nothing was written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gql_support.accounts.models import Role
from gql_support.api.ids import to_global_id
from tests.conftest import GraphQLClient, MakePerson, Person
from tests.documents import ADD_COMMENT, ASSIGN, REPORT, SAVE, SNAPSHOT, UPDATE_STATUS, WATCH

DUE = "2031-05-01T12:00:00+00:00"


@dataclass
class Desk:
    """An incident #1 reported by Rita (a USER), assigned by Max to Ada with Hugo's support,
    with Fay on its watchlist; and people with no part in it."""

    reporter: Person  # USER, raised the incident
    fan: Person  # USER, on the watchlist
    bystander: Person  # USER, no part in it
    agent: Person  # AGENT, Assigned To
    helper: Person  # AGENT, Supported By
    outsider_agent: Person  # AGENT, no part in it
    manager: Person  # MANAGER
    admin: Person  # ADMIN
    incident_id: str

    def person(self, name: str) -> Person:
        person = getattr(self, name)
        assert isinstance(person, Person)
        return person


@pytest.fixture
async def desk(gql: GraphQLClient, make_person: MakePerson) -> Desk:
    reporter = await make_person(Role.USER, name="Rita Reporter")
    fan = await make_person(Role.USER, name="Fay Fan")
    bystander = await make_person(Role.USER, name="Bob Bystander")
    agent = await make_person(Role.AGENT, name="Ada Agent")
    helper = await make_person(Role.AGENT, name="Hugo Helper")
    outsider_agent = await make_person(Role.AGENT, name="Otto Outsider")
    manager = await make_person(Role.MANAGER, name="Max Manager")
    admin = await make_person(Role.ADMIN, name="Alma Admin")
    data = await gql.execute(
        REPORT,
        {"input": {"description": "Export to Excel times out", "watcherIds": [fan.id]}},
        as_=reporter,
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
    assert data["assignIncident"]["errors"] == []
    return Desk(
        reporter=reporter,
        fan=fan,
        bystander=bystander,
        agent=agent,
        helper=helper,
        outsider_agent=outsider_agent,
        manager=manager,
        admin=admin,
        incident_id=incident_id,
    )


async def snapshot(gql: GraphQLClient, desk: Desk) -> dict[str, Any]:
    """Everything a change could touch, read back as the manager."""
    return await gql.execute(SNAPSHOT, {"id": desk.incident_id}, as_=desk.manager)


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    assert all(error["message"] for error in payload["errors"]), payload["errors"]
    return [(error["code"], error["field"]) for error in payload["errors"]]


def names(users: list[dict[str, str]]) -> list[str]:
    return sorted(user["name"] for user in users)


# --- reportIncident ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_anyone_may_report_with_watchlist_impact_urgency_and_due_date(
    gql: GraphQLClient, make_person: MakePerson, role: Role
) -> None:
    # Given a person of any role and two colleagues
    reporter = await make_person(role, name="Rita Reporter")
    colleague = await make_person(Role.USER, name="Carl Colleague")
    agent = await make_person(Role.AGENT, name="Ada Agent")

    # When they report an incident naming the others on the watchlist, with impact,
    # urgency, due date and task
    data = await gql.execute(
        REPORT,
        {
            "input": {
                "description": "Planning grid does not load",
                "impact": "HIGH",
                "urgency": "LOW",
                "dueDate": DUE,
                "task": "Budget entry",
                "type": "CLARIFICATION",
                "watcherIds": [reporter.id, colleague.id, agent.id],
            }
        },
        as_=reporter,
    )

    # Then the incident is raised as they asked
    payload = data["reportIncident"]
    assert payload["errors"] == []
    incident = payload["incident"]
    assert {k: v for k, v in incident.items() if k != "id"} == {
        "number": 1,
        "version": 1,
        "status": "NEW",
        "type": "CLARIFICATION",
        "impact": "HIGH",
        "urgency": "LOW",
        "priority": "NORMAL",
        "dueDate": DUE,
        "task": "Budget entry",
        "reporter": {"name": "Rita Reporter"},
        "assignedTo": None,
        "supportedBy": [],
        "watchers": incident["watchers"],
    }
    assert names(incident["watchers"]) == ["Ada Agent", "Carl Colleague", "Rita Reporter"]


@pytest.mark.parametrize("role", [Role.USER, Role.AGENT])
@pytest.mark.parametrize("field", ["assignedToId", "supportedByIds"])
async def test_only_managers_report_an_incident_already_assigned(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, role: Role, field: str
) -> None:
    # Given a non-manager
    reporter = await make_person(role)
    value: object = desk.agent.id if field == "assignedToId" else [desk.agent.id]

    # When they report an incident naming who works it
    data = await gql.execute(
        REPORT, {"input": {"description": "Grid is slow", field: value}}, as_=reporter
    )

    # Then it is refused, naming the field, and no incident was raised
    payload = data["reportIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("FORBIDDEN", ["input", field])]
    after = await snapshot(gql, desk)
    assert after["incidents"]["totalCount"] == 1

    # And the next incident still gets the next Request ID, without a gap
    data = await gql.execute(REPORT, {"input": {"description": "Grid is slow"}}, as_=reporter)
    assert data["reportIncident"]["incident"]["number"] == 2


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
async def test_managers_report_an_incident_already_assigned(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, role: Role
) -> None:
    manager = await make_person(role)

    data = await gql.execute(
        REPORT,
        {
            "input": {
                "description": "Grid is slow",
                "assignedToId": desk.agent.id,
                "supportedByIds": [desk.helper.id, desk.outsider_agent.id],
            }
        },
        as_=manager,
    )

    payload = data["reportIncident"]
    assert payload["errors"] == []
    assert payload["incident"]["assignedTo"] == {"name": "Ada Agent"}
    assert names(payload["incident"]["supportedBy"]) == ["Hugo Helper", "Otto Outsider"]


# --- assignIncident ---------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["reporter", "bystander", "agent", "helper", "outsider_agent"])
@pytest.mark.parametrize("field", ["assignedToId", "supportedByIds"])
async def test_users_and_agents_may_not_assign(
    gql: GraphQLClient, desk: Desk, actor: str, field: str
) -> None:
    # Given the incident as it stands
    before = await snapshot(gql, desk)
    change: dict[str, object] = (
        {"assignedToId": desk.outsider_agent.id}
        if field == "assignedToId"
        else {"assignedToId": desk.agent.id, "supportedByIds": [desk.outsider_agent.id]}
    )

    # When a USER or an AGENT (even the assignee) reassigns it
    data = await gql.execute(
        ASSIGN, {"input": {"incidentId": desk.incident_id, **change}}, as_=desk.person(actor)
    )

    # Then it is refused and nothing was written
    payload = data["assignIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("FORBIDDEN", ["input", field])]
    assert await snapshot(gql, desk) == before


@pytest.mark.parametrize("actor", ["manager", "admin"])
@pytest.mark.parametrize("assignee_role", [Role.AGENT, Role.MANAGER, Role.ADMIN])
async def test_managers_assign_to_active_support_people(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, actor: str, assignee_role: Role
) -> None:
    assignee = await make_person(assignee_role, name="Nina New")
    supporter = await make_person(assignee_role, name="Sam Second")

    data = await gql.execute(
        ASSIGN,
        {
            "input": {
                "incidentId": desk.incident_id,
                "assignedToId": assignee.id,
                "supportedByIds": [supporter.id],
                "expectedVersion": 2,
            }
        },
        as_=desk.person(actor),
    )

    payload = data["assignIncident"]
    assert payload["errors"] == []
    assert payload["incident"]["version"] == 3
    assert payload["incident"]["assignedTo"] == {"name": "Nina New"}
    assert payload["incident"]["supportedBy"] == [{"name": "Sam Second"}]
    after = await snapshot(gql, desk)
    assert after["incident"]["history"]["totalCount"] == 6  # + ASSIGNED, SUPPORTERS_CHANGED


async def test_a_manager_unassigns_with_null(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(
        ASSIGN,
        {"input": {"incidentId": desk.incident_id, "assignedToId": None}},
        as_=desk.manager,
    )

    incident = data["assignIncident"]["incident"]
    assert incident["assignedTo"] is None
    assert incident["supportedBy"] == [{"name": "Hugo Helper"}]


@pytest.mark.parametrize(
    ("role", "active"),
    [(Role.USER, True), (Role.AGENT, False), (Role.MANAGER, False), (Role.USER, False)],
)
@pytest.mark.parametrize("field", ["assignedToId", "supportedByIds"])
async def test_assignee_and_supporters_must_be_active_support_people(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, role: Role, active: bool, field: str
) -> None:
    # Given a person who may not work incidents: a USER, or someone deactivated
    candidate = await make_person(role, name="Clara Candidate")
    if not active:
        candidate.user.is_active = False
        await candidate.user.save()
    before = await snapshot(gql, desk)
    change: dict[str, object] = (
        {"assignedToId": candidate.id}
        if field == "assignedToId"
        else {"assignedToId": desk.agent.id, "supportedByIds": [desk.helper.id, candidate.id]}
    )

    # When the manager names them
    data = await gql.execute(
        ASSIGN, {"input": {"incidentId": desk.incident_id, **change}}, as_=desk.manager
    )

    # Then the input is refused, naming the field, and nothing was written
    payload = data["assignIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("INVALID_INPUT", ["input", field])]
    assert await snapshot(gql, desk) == before


@pytest.mark.parametrize(
    "unknown",
    [to_global_id("User", 999_999), to_global_id("Incident", 1), "not-an-id"],
    ids=["missing-user", "incident-id", "garbage"],
)
@pytest.mark.parametrize("field", ["assignedToId", "supportedByIds"])
async def test_assigning_an_unknown_user_is_not_found(
    gql: GraphQLClient, desk: Desk, unknown: str, field: str
) -> None:
    before = await snapshot(gql, desk)
    change: dict[str, object] = (
        {"assignedToId": unknown}
        if field == "assignedToId"
        else {"assignedToId": desk.agent.id, "supportedByIds": [unknown]}
    )

    data = await gql.execute(
        ASSIGN, {"input": {"incidentId": desk.incident_id, **change}}, as_=desk.manager
    )

    payload = data["assignIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("NOT_FOUND", ["input", field])]
    assert await snapshot(gql, desk) == before


# --- saveIncident, field by field -------------------------------------------------------------

#: Fields only a manager may change, a new value for each, and the priority it leaves.
MANAGER_FIELDS = [
    ("impact", "HIGH", "HIGH"),
    ("urgency", "HIGH", "HIGH"),
    ("dueDate", DUE, "NORMAL"),
]


@pytest.mark.parametrize(("field", "value", "priority"), MANAGER_FIELDS)
@pytest.mark.parametrize("actor", ["manager", "admin"])
async def test_managers_change_impact_urgency_and_due_date(
    gql: GraphQLClient, desk: Desk, actor: str, field: str, value: str, priority: str
) -> None:
    data = await gql.execute(
        SAVE,
        {"input": {"incidentId": desk.incident_id, "expectedVersion": 2, field: value}},
        as_=desk.person(actor),
    )

    payload = data["saveIncident"]
    assert payload["errors"] == []
    assert payload["incident"][field] == value
    assert payload["incident"]["version"] == 3
    assert payload["incident"]["priority"] == priority


@pytest.mark.parametrize(("field", "value", "priority"), MANAGER_FIELDS)
@pytest.mark.parametrize("actor", ["reporter", "agent", "helper", "bystander"])
async def test_only_managers_change_impact_urgency_and_due_date(
    gql: GraphQLClient, desk: Desk, actor: str, field: str, value: str, priority: str
) -> None:
    before = await snapshot(gql, desk)

    data = await gql.execute(
        SAVE, {"input": {"incidentId": desk.incident_id, field: value}}, as_=desk.person(actor)
    )

    payload = data["saveIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("FORBIDDEN", ["input", field])]
    assert await snapshot(gql, desk) == before


WORKER_FIELDS = [("type", "CHANGE_REQUEST"), ("task", "Month-end close")]


@pytest.mark.parametrize(("field", "value"), WORKER_FIELDS)
@pytest.mark.parametrize("actor", ["manager", "admin", "agent", "helper", "reporter"])
async def test_people_working_on_it_change_type_and_task(
    gql: GraphQLClient, desk: Desk, actor: str, field: str, value: str
) -> None:
    data = await gql.execute(
        SAVE,
        {"input": {"incidentId": desk.incident_id, "expectedVersion": 2, field: value}},
        as_=desk.person(actor),
    )

    payload = data["saveIncident"]
    assert payload["errors"] == []
    assert payload["incident"][field] == value
    assert payload["incident"]["version"] == 3


@pytest.mark.parametrize(("field", "value"), WORKER_FIELDS)
@pytest.mark.parametrize("actor", ["bystander", "fan", "outsider_agent"])
async def test_people_with_no_part_in_it_may_not_change_type_or_task(
    gql: GraphQLClient, desk: Desk, actor: str, field: str, value: str
) -> None:
    before = await snapshot(gql, desk)

    data = await gql.execute(
        SAVE, {"input": {"incidentId": desk.incident_id, field: value}}, as_=desk.person(actor)
    )

    payload = data["saveIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("FORBIDDEN", ["input", field])]
    assert await snapshot(gql, desk) == before


@pytest.mark.parametrize("actor", ["reporter", "bystander", "agent", "helper", "outsider_agent"])
async def test_anyone_adds_and_removes_themselves_on_the_watchlist(
    gql: GraphQLClient, desk: Desk, actor: str
) -> None:
    person = desk.person(actor)

    # When they add themselves next to Fay
    data = await gql.execute(
        SAVE,
        {"input": {"incidentId": desk.incident_id, "watcherIds": [desk.fan.id, person.id]}},
        as_=person,
    )
    added = data["saveIncident"]
    assert added["errors"] == []
    assert names(added["incident"]["watchers"]) == sorted(["Fay Fan", person.user.name])
    assert added["incident"]["version"] == 3

    # And take themselves off again
    data = await gql.execute(
        SAVE, {"input": {"incidentId": desk.incident_id, "watcherIds": [desk.fan.id]}}, as_=person
    )
    removed = data["saveIncident"]
    assert removed["errors"] == []
    assert removed["incident"]["watchers"] == [{"name": "Fay Fan"}]
    assert removed["incident"]["version"] == 4


@pytest.mark.parametrize("change", ["add-other", "remove-other", "swap-other-for-self"])
@pytest.mark.parametrize("actor", ["reporter", "bystander", "agent", "helper", "outsider_agent"])
async def test_only_managers_edit_other_people_on_the_watchlist(
    gql: GraphQLClient, desk: Desk, actor: str, change: str
) -> None:
    # Given Fay alone on the watchlist
    person = desk.person(actor)
    watcher_ids = {
        "add-other": [desk.fan.id, desk.manager.id],
        "remove-other": [],
        "swap-other-for-self": [person.id],
    }[change]
    before = await snapshot(gql, desk)

    # When a non-manager adds or removes someone else
    data = await gql.execute(
        SAVE, {"input": {"incidentId": desk.incident_id, "watcherIds": watcher_ids}}, as_=person
    )

    # Then it is refused, and not even their own part of the change was written
    payload = data["saveIncident"]
    assert payload["incident"] is None
    assert errors_of(payload) == [("FORBIDDEN", ["input", "watcherIds"])]
    assert await snapshot(gql, desk) == before


@pytest.mark.parametrize("actor", ["manager", "admin"])
async def test_managers_edit_other_people_on_the_watchlist(
    gql: GraphQLClient, desk: Desk, actor: str
) -> None:
    data = await gql.execute(
        SAVE,
        {
            "input": {
                "incidentId": desk.incident_id,
                "watcherIds": [desk.bystander.id, desk.agent.id],
            }
        },
        as_=desk.person(actor),
    )

    payload = data["saveIncident"]
    assert payload["errors"] == []
    assert names(payload["incident"]["watchers"]) == ["Ada Agent", "Bob Bystander"]


# --- addComment and watchIncident -------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_anyone_comments(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, role: Role
) -> None:
    person = await make_person(role, name="Cora Commenter")

    data = await gql.execute(
        ADD_COMMENT, {"input": {"incidentId": desk.incident_id, "body": "Same here"}}, as_=person
    )

    payload = data["addComment"]
    assert payload["errors"] == []
    assert payload["comment"] == {"body": "Same here", "author": {"name": "Cora Commenter"}}
    assert payload["incident"] == {"version": 3, "comments": {"totalCount": 1}}


@pytest.mark.parametrize("role", list(Role))
async def test_anyone_watches_and_unwatches(
    gql: GraphQLClient, desk: Desk, make_person: MakePerson, role: Role
) -> None:
    person = await make_person(role, name="Walt Watcher")

    data = await gql.execute(
        WATCH, {"input": {"incidentId": desk.incident_id, "watching": True}}, as_=person
    )
    watching = data["watchIncident"]
    assert watching["errors"] == []
    assert names(watching["incident"]["watchers"]) == ["Fay Fan", "Walt Watcher"]
    assert watching["incident"]["version"] == 3

    data = await gql.execute(
        WATCH, {"input": {"incidentId": desk.incident_id, "watching": False}}, as_=person
    )
    unwatched = data["watchIncident"]
    assert unwatched["errors"] == []
    assert unwatched["incident"]["watchers"] == [{"name": "Fay Fan"}]
    assert unwatched["incident"]["version"] == 4


# --- without a token --------------------------------------------------------------------------


def _anonymous_calls(desk: Desk) -> dict[str, tuple[str, dict[str, Any]]]:
    incident = desk.incident_id
    return {
        "reportIncident": (REPORT, {"input": {"description": "Anonymous report"}}),
        "assignIncident": (ASSIGN, {"input": {"incidentId": incident, "assignedToId": None}}),
        "updateStatus": (UPDATE_STATUS, {"input": {"incidentId": incident, "status": "CLOSED"}}),
        "saveIncident": (SAVE, {"input": {"incidentId": incident, "impact": "HIGH"}}),
        "addComment": (ADD_COMMENT, {"input": {"incidentId": incident, "body": "Hello"}}),
        "watchIncident": (WATCH, {"input": {"incidentId": incident, "watching": True}}),
    }


@pytest.mark.parametrize(
    "mutation",
    [
        "reportIncident",
        "assignIncident",
        "updateStatus",
        "saveIncident",
        "addComment",
        "watchIncident",
    ],
)
async def test_mutations_without_a_token_are_unauthenticated(
    gql: GraphQLClient, desk: Desk, mutation: str
) -> None:
    before = await snapshot(gql, desk)
    query, variables = _anonymous_calls(desk)[mutation]

    response = await gql.post(query, variables)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        ([mutation], "UNAUTHENTICATED")
    ]
    assert await snapshot(gql, desk) == before
