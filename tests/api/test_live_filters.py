"""A live dashboard with a search hears exactly the changes its own query would show: an
incident leaving its list by PostgreSQL's stemmed words, and not a change whose new words
arrive with a move out of the list."""

from __future__ import annotations

import json

import pytest

from gql_support.accounts.models import Role
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import IncidentStatus
from tests.api.test_subscriptions import UPDATES, _listening, _next, _subscribe
from tests.conftest import MakePerson


@pytest.fixture
def server_url(live_server: str) -> str:
    return live_server.replace("http://", "ws://", 1) + "/graphql"


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Stemming is PostgreSQL's."""
    return str(request.param)


async def test_an_incident_leaving_a_stemmed_search_is_heard(
    server_url: str, make_person: MakePerson
) -> None:
    # Given an incident about a printer, and a dashboard of NEW incidents about "printers"
    reporter = (await make_person(Role.USER)).user
    manager = (await make_person(Role.MANAGER)).user
    jam = await service.report_incident(actor=reporter, description="The printer jams")
    socket = await _subscribe(
        server_url,
        (await make_person(Role.AGENT)).token,
        UPDATES,
        {"filter": {"search": "printers", "status": ["NEW"]}},
    )
    await _listening(1)

    # When the incident moves out of NEW, and another one is reported after it
    await service.update_status(
        actor=manager, incident_id=jam.id, status=IncidentStatus.IN_PROGRESS
    )
    await service.report_incident(actor=reporter, description="Printers marker")

    # Then the dashboard first hears the incident leave its list
    update = (await _next(socket))["incidentUpdates"]
    assert update["incident"] == {"number": jam.number, "status": "IN_PROGRESS"}
    await socket.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_words_that_arrive_with_a_move_out_of_the_list_are_not_heard(
    server_url: str, make_person: MakePerson
) -> None:
    # Given a NEW incident without the word "toner", and a dashboard of NEW incidents about it
    reporter = (await make_person(Role.USER)).user
    manager = (await make_person(Role.MANAGER)).user
    broken = await service.report_incident(actor=reporter, description="Printer broken")
    socket = await _subscribe(
        server_url,
        (await make_person(Role.AGENT)).token,
        UPDATES,
        {"filter": {"search": "toner", "status": ["NEW"]}},
    )
    await _listening(1)

    # When one Save/Send adds the word in a comment and moves the incident out of NEW
    await service.edit_incident(
        actor=manager,
        incident_id=broken.id,
        changes=IncidentChanges(comment="toner is empty", status=IncidentStatus.IN_PROGRESS),
    )
    marker = await service.report_incident(actor=reporter, description="toner marker")

    # Then the dashboard, which never listed it, hears nothing of it: the next update is the
    # incident reported after it
    update = (await _next(socket))["incidentUpdates"]
    assert update["incident"]["number"] == marker.number, json.dumps(update)
    await socket.close()
