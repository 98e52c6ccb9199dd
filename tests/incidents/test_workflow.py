"""The status workflow and the priority matrix: every move of the table, for every party, through
the service; what ``allowedTransitions`` shows each viewer; and priority derived from impact x
urgency.

The tables below are the README's, written out again on purpose: the code's copy in
``gql_support/incidents/workflow.py`` must agree with them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gql_support.accounts.models import Role, User
from gql_support.api.ids import to_global_id
from gql_support.errors import InvalidTransition
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
)
from gql_support.incidents.workflow import TRANSITIONS
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson, Person

S = IncidentStatus
MANAGER, ASSIGNEE, SUPPORTER, REPORTER = "manager", "assignee", "supporter", "reporter"

#: README "Status workflow": WORKFLOW[from][to] = who may make the move; absent = no such move.
WORKFLOW: dict[IncidentStatus, dict[IncidentStatus, set[str]]] = {
    S.NEW: {
        S.IN_PROGRESS: {MANAGER, ASSIGNEE},
        S.CLOSED: {MANAGER},
        S.REJECTED: {MANAGER},
        S.ON_HOLD: {MANAGER, ASSIGNEE},
    },
    S.IN_PROGRESS: {
        S.RETESTING: {MANAGER, ASSIGNEE, SUPPORTER},
        S.RESOLVED: {MANAGER, ASSIGNEE},
        S.CLOSED: {MANAGER},
        S.REJECTED: {MANAGER},
        S.ON_HOLD: {MANAGER, ASSIGNEE},
    },
    S.RETESTING: {
        S.IN_PROGRESS: {MANAGER, ASSIGNEE, SUPPORTER, REPORTER},
        S.RESOLVED: {MANAGER, ASSIGNEE, REPORTER},
        S.ON_HOLD: {MANAGER, ASSIGNEE},
    },
    S.RESOLVED: {S.IN_PROGRESS: {MANAGER, REPORTER}},
    S.CLOSED: {S.IN_PROGRESS: {MANAGER}},
    S.REJECTED: {S.IN_PROGRESS: {MANAGER}},
    S.ON_HOLD: {
        S.IN_PROGRESS: {MANAGER, ASSIGNEE},
        S.CLOSED: {MANAGER},
        S.REJECTED: {MANAGER},
    },
}

#: How a manager brings a NEW incident to each status, one allowed move at a time.
ROUTE: dict[IncidentStatus, list[IncidentStatus]] = {
    S.NEW: [],
    S.IN_PROGRESS: [S.IN_PROGRESS],
    S.RETESTING: [S.IN_PROGRESS, S.RETESTING],
    S.RESOLVED: [S.IN_PROGRESS, S.RESOLVED],
    S.CLOSED: [S.CLOSED],
    S.REJECTED: [S.REJECTED],
    S.ON_HOLD: [S.ON_HOLD],
}

#: The people of the cast, and the workflow party each of them stands as (None: no part).
PARTY_OF: dict[str, str | None] = {
    "manager": MANAGER,
    "admin": MANAGER,
    "assignee": ASSIGNEE,
    "supporter": SUPPORTER,
    "reporter": REPORTER,
    "bystander": None,
    "outsider": None,
}


def allowed_for(source: IncidentStatus, party: str | None) -> list[IncidentStatus]:
    """The README's targets for a party, in the order of the status enum."""
    moves = WORKFLOW[source]
    return [target for target in IncidentStatus if party in moves.get(target, set())]


@dataclass
class Cast:
    manager: Person  # MANAGER
    admin: Person  # ADMIN
    assignee: Person  # AGENT, Assigned To
    supporter: Person  # AGENT, Supported By
    reporter: Person  # USER, raised the incidents
    bystander: Person  # AGENT, no part in the incidents
    outsider: Person  # USER, no part in the incidents

    def user(self, name: str) -> User:
        person = getattr(self, name)
        assert isinstance(person, Person)
        return person.user


@pytest.fixture
async def cast(make_person: MakePerson) -> Cast:
    return Cast(
        manager=await make_person(Role.MANAGER, name="Max Manager"),
        admin=await make_person(Role.ADMIN, name="Alma Admin"),
        assignee=await make_person(Role.AGENT, name="Ada Agent"),
        supporter=await make_person(Role.AGENT, name="Hugo Helper"),
        reporter=await make_person(Role.USER, name="Rita Reporter"),
        bystander=await make_person(Role.AGENT, name="Bea Bystander"),
        outsider=await make_person(Role.USER, name="Olga Outsider"),
    )


async def incident_at(cast: Cast, status: IncidentStatus) -> Incident:
    """An incident raised by the reporter, assigned with a supporter, brought to ``status``."""
    incident = await service.report_incident(
        actor=cast.reporter.user, description="Consolidation run fails"
    )
    await service.assign_incident(
        actor=cast.manager.user,
        incident_id=incident.id,
        assigned_to_id=cast.assignee.user.id,
        supported_by_ids=[cast.supporter.user.id],
    )
    for step in ROUTE[status]:
        await service.edit_incident(
            actor=cast.manager.user, incident_id=incident.id, changes=IncidentChanges(status=step)
        )
    incident = await Incident.get(id=incident.id)
    assert incident.status == status
    return incident


async def event_count(incident: Incident) -> int:
    return await IncidentEvent.filter(incident_id=incident.id).count()


async def attempt(
    actor: User, incident: Incident, target: IncidentStatus
) -> InvalidTransition | None:
    """Moves the incident as the actor; the refusal, if it is refused."""
    try:
        await service.update_status(
            actor=actor, incident_id=incident.id, status=target, expected_version=incident.version
        )
    except InvalidTransition as error:
        return error
    return None


def test_the_code_table_is_the_readme_table() -> None:
    in_code = {
        source: {target: {str(p) for p in parties} for target, parties in moves.items()}
        for source, moves in TRANSITIONS.items()
    }
    assert in_code == WORKFLOW


@pytest.mark.parametrize("who", list(PARTY_OF))
@pytest.mark.parametrize("source", list(IncidentStatus))
async def test_every_move_from_a_status_for_each_party(
    settings: Settings, cast: Cast, source: IncidentStatus, who: str
) -> None:
    actor = cast.user(who)
    allowed = allowed_for(source, PARTY_OF[who])
    outcomes: dict[IncidentStatus, str] = {}

    for target in IncidentStatus:
        # Given an incident at the source status
        incident = await incident_at(cast, source)
        events_before = await event_count(incident)

        # When this person moves it to the target
        error = await attempt(actor, incident, target)

        if error is not None:
            outcomes[target] = "refused"
            # Then a refusal names the field, says what the person may do instead...
            assert error.field == ["input", "status"]
            if target == source:
                assert f"already {source}" in error.message
            else:
                listed = ", ".join(allowed) or "none"
                assert error.message.endswith(f"allowed: {listed}"), error.message
            # ...and writes nothing
            reloaded = await Incident.get(id=incident.id)
            assert (reloaded.status, reloaded.version) == (source, incident.version)
            assert await event_count(incident) == events_before
            continue

        # Then an allowed move is made, with one version bump and one history entry
        outcomes[target] = "moved"
        reloaded = await Incident.get(id=incident.id)
        assert (reloaded.status, reloaded.version) == (target, incident.version + 1)
        events = await IncidentEvent.filter(incident_id=incident.id).order_by("id")
        assert len(events) == events_before + 1
        last = events[-1]
        assert (last.kind, last.field, last.from_value, last.to_value, last.actor_id) == (
            IncidentEventKind.STATUS_CHANGED,
            "status",
            source.value,
            target.value,
            actor.id,
        )

    assert outcomes == {t: "moved" if t in allowed else "refused" for t in IncidentStatus}


async def test_someone_standing_as_two_parties_may_make_the_moves_of_both(
    settings: Settings, make_person: MakePerson
) -> None:
    # Given an agent who reported an incident and also supports it
    manager = await make_person(Role.MANAGER)
    agent = await make_person(Role.AGENT)
    incident = await service.report_incident(actor=agent.user, description="Rates are stale")
    await service.assign_incident(
        actor=manager.user,
        incident_id=incident.id,
        assigned_to_id=manager.user.id,
        supported_by_ids=[agent.user.id],
    )
    for step in (S.IN_PROGRESS, S.RETESTING):
        await service.update_status(actor=manager.user, incident_id=incident.id, status=step)

    # When they try a move only a manager or assignee may make
    with pytest.raises(InvalidTransition) as refused:
        await service.update_status(actor=agent.user, incident_id=incident.id, status=S.ON_HOLD)

    # Then the message lists the moves of the supporter and of the reporter together
    assert refused.value.message.endswith("allowed: IN_PROGRESS, RESOLVED")

    # And as reporter they confirm the fix
    resolved = await service.update_status(
        actor=agent.user, incident_id=incident.id, status=S.RESOLVED
    )
    assert resolved.status == S.RESOLVED


async def test_the_workflow_applies_to_status_changes_made_with_other_changes(
    settings: Settings, cast: Cast
) -> None:
    # Given a NEW incident
    incident = await incident_at(cast, S.NEW)
    events_before = await event_count(incident)

    # When the supporter sends a task change together with a move they may not make
    with pytest.raises(InvalidTransition) as refused:
        await service.edit_incident(
            actor=cast.supporter.user,
            incident_id=incident.id,
            changes=IncidentChanges(status=S.IN_PROGRESS, task="Step 3", comment="Starting"),
        )

    # Then nothing at all is written, not even the task or the comment
    assert refused.value.message.endswith("allowed: none")
    reloaded = await Incident.get(id=incident.id)
    assert (reloaded.status, reloaded.task, reloaded.version) == (S.NEW, None, incident.version)
    assert await event_count(incident) == events_before


# --- allowedTransitions over HTTP -------------------------------------------------------------

ALLOWED_TRANSITIONS = """
query Allowed($id: ID!) {
  incident(id: $id) { status allowedTransitions }
}
"""


@pytest.mark.parametrize("source", list(IncidentStatus))
async def test_allowed_transitions_per_viewer(
    gql: GraphQLClient, cast: Cast, source: IncidentStatus
) -> None:
    # Given an incident at a status
    incident = await incident_at(cast, source)

    # When each viewer reads what they may do with it
    shown = {}
    for who in PARTY_OF:
        data = await gql.execute(
            ALLOWED_TRANSITIONS,
            {"id": to_global_id("Incident", incident.id)},
            as_=getattr(cast, who),
        )
        assert data["incident"]["status"] == source.value
        shown[who] = data["incident"]["allowedTransitions"]

    # Then each sees the README's moves for the part they play, in workflow order
    assert shown == {who: [t.value for t in allowed_for(source, p)] for who, p in PARTY_OF.items()}


# --- priority ---------------------------------------------------------------------------------

#: README "Priority": PRIORITY[impact][urgency].
PRIORITY = {
    "HIGH": {"HIGH": "URGENT", "MEDIUM": "HIGH", "LOW": "NORMAL"},
    "MEDIUM": {"HIGH": "HIGH", "MEDIUM": "NORMAL", "LOW": "LOW"},
    "LOW": {"HIGH": "NORMAL", "MEDIUM": "LOW", "LOW": "LOW"},
}
CELLS = [(i, u, p) for i, row in PRIORITY.items() for u, p in row.items()]

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) {
    incident { id impact urgency priority version }
    errors { code message field }
  }
}
"""

SAVE = """
mutation Save($input: SaveIncidentInput!) {
  saveIncident(input: $input) {
    incident { impact urgency priority version }
    errors { code message field }
  }
}
"""

HISTORY = """
query History($id: ID!) {
  incident(id: $id) { history(first: 100) { nodes { kind field from to } } }
}
"""


@pytest.mark.parametrize(("impact", "urgency", "priority"), CELLS)
async def test_reporting_derives_priority_from_impact_and_urgency(
    gql: GraphQLClient, make_person: MakePerson, impact: str, urgency: str, priority: str
) -> None:
    reporter = await make_person(Role.USER)

    data = await gql.execute(
        REPORT,
        {"input": {"description": "Slow grid", "impact": impact, "urgency": urgency}},
        as_=reporter,
    )

    incident = data["reportIncident"]["incident"]
    assert (incident["impact"], incident["urgency"], incident["priority"]) == (
        impact,
        urgency,
        priority,
    )


async def test_reporting_without_impact_or_urgency_is_medium_medium_normal(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    reporter = await make_person(Role.USER)

    data = await gql.execute(REPORT, {"input": {"description": "Slow grid"}}, as_=reporter)

    incident = data["reportIncident"]["incident"]
    assert (incident["impact"], incident["urgency"], incident["priority"]) == (
        "MEDIUM",
        "MEDIUM",
        "NORMAL",
    )


@pytest.mark.parametrize(("impact", "urgency", "priority"), CELLS)
async def test_saving_impact_and_urgency_recomputes_priority(
    gql: GraphQLClient, make_person: MakePerson, impact: str, urgency: str, priority: str
) -> None:
    # Given a MEDIUM x MEDIUM (NORMAL) incident
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    data = await gql.execute(REPORT, {"input": {"description": "Slow grid"}}, as_=reporter)
    incident_id = data["reportIncident"]["incident"]["id"]

    # When the manager sets impact and urgency
    data = await gql.execute(
        SAVE,
        {"input": {"incidentId": incident_id, "impact": impact, "urgency": urgency}},
        as_=manager,
    )

    # Then the priority follows the matrix, and the history records what changed
    payload = data["saveIncident"]
    assert payload["errors"] == []
    changed = (impact, urgency) != ("MEDIUM", "MEDIUM")
    assert payload["incident"] == {
        "impact": impact,
        "urgency": urgency,
        "priority": priority,
        "version": 2 if changed else 1,
    }
    data = await gql.execute(HISTORY, {"id": incident_id}, as_=manager)
    recorded = [
        (e["field"], e["from"], e["to"])
        for e in data["incident"]["history"]["nodes"]
        if e["kind"] == "PRIORITY_CHANGED"
    ]
    expected = [
        (field, before, after)
        for field, before, after in (
            ("impact", "MEDIUM", impact),
            ("urgency", "MEDIUM", urgency),
            ("priority", "NORMAL", priority),
        )
        if before != after
    ]
    assert recorded == expected


async def test_changing_impact_alone_recomputes_priority(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a LOW x HIGH (NORMAL) incident
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    data = await gql.execute(
        REPORT,
        {"input": {"description": "Slow grid", "impact": "LOW", "urgency": "HIGH"}},
        as_=reporter,
    )
    incident_id = data["reportIncident"]["incident"]["id"]

    # When the manager raises the impact, then lowers it
    data = await gql.execute(
        SAVE, {"input": {"incidentId": incident_id, "impact": "HIGH"}}, as_=manager
    )
    raised = data["saveIncident"]["incident"]
    data = await gql.execute(
        SAVE, {"input": {"incidentId": incident_id, "impact": "MEDIUM"}}, as_=manager
    )
    lowered = data["saveIncident"]["incident"]

    # Then the priority follows each time, keeping the urgency
    assert raised == {"impact": "HIGH", "urgency": "HIGH", "priority": "URGENT", "version": 2}
    assert lowered == {"impact": "MEDIUM", "urgency": "HIGH", "priority": "HIGH", "version": 3}
