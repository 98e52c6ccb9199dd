"""The stored sort ranks of statuses and priorities are constants, not the enums' order.

Rows keep ``status_rank`` and ``priority_rank``, and the status and priority filters compare
them: a rank that moved (say, because a status was inserted in the middle of the enum) would
make every stored row answer the wrong filter. These tests pin each rank, and fail for a new
member that has none.
"""

from __future__ import annotations

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.models import (
    PRIORITY_RANK,
    STATUS_RANK,
    Impact,
    Incident,
    IncidentStatus,
    Priority,
    Urgency,
)
from tests.conftest import MakePerson

#: The ranks rows were stored with (migration 0001 onwards). Changing one needs a migration.
STORED_STATUS_RANKS = {
    "NEW": 0,
    "IN_PROGRESS": 1,
    "RETESTING": 2,
    "RESOLVED": 3,
    "CLOSED": 4,
    "REJECTED": 5,
    "ON_HOLD": 6,
}
STORED_PRIORITY_RANKS = {"URGENT": 0, "HIGH": 1, "NORMAL": 2, "LOW": 3}


def test_every_status_has_its_stored_rank() -> None:
    assert {status.value for status in IncidentStatus} == set(STORED_STATUS_RANKS), (
        "a status was added or removed: give it a rank of its own in STATUS_RANK and here"
    )
    assert {status.value: rank for status, rank in STATUS_RANK.items()} == STORED_STATUS_RANKS


def test_every_priority_has_its_stored_rank() -> None:
    assert {priority.value for priority in Priority} == set(STORED_PRIORITY_RANKS), (
        "a priority was added or removed: give it a rank of its own in PRIORITY_RANK and here"
    )
    assert {p.value: rank for p, rank in PRIORITY_RANK.items()} == STORED_PRIORITY_RANKS


def test_no_two_members_share_a_rank() -> None:
    assert len(set(STATUS_RANK.values())) == len(STATUS_RANK)
    assert len(set(PRIORITY_RANK.values())) == len(PRIORITY_RANK)


async def test_a_saved_incident_stores_the_ranks_of_its_status_and_priority(
    make_person: MakePerson,
) -> None:
    # Given an urgent incident put on hold
    manager = await make_person(Role.MANAGER)
    incident = await service.report_incident(
        actor=manager.user, description="Server down", impact=Impact.HIGH, urgency=Urgency.HIGH
    )
    await service.update_status(
        actor=manager.user, incident_id=incident.id, status=IncidentStatus.ON_HOLD
    )

    # Then its row holds the pinned ranks
    stored = await Incident.filter(id=incident.id).values_list("status_rank", "priority_rank")
    assert [tuple(row) for row in stored] == [
        (STORED_STATUS_RANKS["ON_HOLD"], STORED_PRIORITY_RANKS["URGENT"])
    ]
