"""The whole desk flow over HTTP, as a frontend would drive it: report → assign → status →
comment → Save/Send, read back from the dashboard."""

from __future__ import annotations

from gql_support.accounts.models import Role
from tests.conftest import GraphQLClient, MakePerson

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) {
    incident { id number status priority version reporter { name } watchers { name } }
    errors { code message field }
  }
}
"""

ASSIGN = """
mutation Assign($input: AssignIncidentInput!) {
  assignIncident(input: $input) {
    incident { version assignedTo { name } supportedBy { name } allowedTransitions }
    errors { code message }
  }
}
"""

UPDATE_STATUS = """
mutation Status($input: UpdateStatusInput!) {
  updateStatus(input: $input) {
    incident { status version comments { totalCount nodes { body } } }
    errors { code message }
  }
}
"""

ADD_COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) {
    comment { body author { name } }
    incident { version references { label url addedBy { name } } }
    errors { code message }
  }
}
"""

SAVE = """
mutation Save($input: SaveIncidentInput!) {
  saveIncident(input: $input) {
    incident { status priority impact urgency dueDate isOverdue task type version }
    errors { code message field }
  }
}
"""

INCIDENT = """
query Incident($number: Int!) {
  incident(number: $number) {
    number description status
    history(first: 100) { totalCount nodes { kind field from to actor { name } } }
  }
}
"""

DASHBOARD = """
query Mine($user: ID!) {
  incidents(filter: {involvingUserId: $user}) { totalCount nodes { number } }
  dashboard { total open byStatus { status count } }
}
"""


async def test_report_assign_work_and_close_an_incident(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a reporter, an incident manager, an agent and a helper
    reporter = await make_person(Role.USER, name="Rita Reporter")
    manager = await make_person(Role.MANAGER, name="Max Manager")
    agent = await make_person(Role.AGENT, name="Ada Agent")
    helper = await make_person(Role.AGENT, name="Hugo Helper")

    # When the reporter raises an incident, naming herself on the watchlist
    data = await gql.execute(
        REPORT,
        {
            "input": {
                "description": "Export to Excel times out",
                "impact": "HIGH",
                "urgency": "HIGH",
                "watcherIds": [reporter.id],
                "comment": "Since Monday",
            }
        },
        as_=reporter,
    )
    payload = data["reportIncident"]
    assert payload["errors"] == []
    incident = payload["incident"]
    assert incident["number"] == 1
    assert incident["status"] == "NEW"
    assert incident["priority"] == "URGENT"
    assert incident["version"] == 1
    assert incident["watchers"] == [{"name": "Rita Reporter"}]

    # And the manager assigns it to the agent, with a helper
    data = await gql.execute(
        ASSIGN,
        {
            "input": {
                "incidentId": incident["id"],
                "assignedToId": agent.id,
                "supportedByIds": [helper.id],
                "expectedVersion": 1,
            }
        },
        as_=manager,
    )
    assigned = data["assignIncident"]["incident"]
    assert assigned["version"] == 2
    assert assigned["assignedTo"] == {"name": "Ada Agent"}
    assert assigned["supportedBy"] == [{"name": "Hugo Helper"}]

    # And the agent starts work, saying why
    data = await gql.execute(
        UPDATE_STATUS,
        {"input": {"incidentId": incident["id"], "status": "IN_PROGRESS", "comment": "On it"}},
        as_=agent,
    )
    working = data["updateStatus"]["incident"]
    assert working["status"] == "IN_PROGRESS"
    assert working["comments"]["totalCount"] == 2
    assert [c["body"] for c in working["comments"]["nodes"]] == ["Since Monday", "On it"]

    # And the helper comments with a reference
    data = await gql.execute(
        ADD_COMMENT,
        {
            "input": {
                "incidentId": incident["id"],
                "body": "The export service logs a timeout",
                "references": [{"label": "Log", "url": "https://logs.example.com/42"}],
            }
        },
        as_=helper,
    )
    commented = data["addComment"]
    assert commented["comment"] == {
        "body": "The export service logs a timeout",
        "author": {"name": "Hugo Helper"},
    }
    assert commented["incident"]["references"] == [
        {"label": "Log", "url": "https://logs.example.com/42", "addedBy": {"name": "Hugo Helper"}}
    ]

    # And the manager presses Save/Send with several changes at once
    data = await gql.execute(
        SAVE,
        {
            "input": {
                "incidentId": incident["id"],
                "expectedVersion": commented["incident"]["version"],
                "status": "RESOLVED",
                "impact": "LOW",
                "dueDate": "2020-01-01T00:00:00+00:00",
                "task": "Export step",
                "comment": "Fixed by the new export timeout",
            }
        },
        as_=manager,
    )
    saved = data["saveIncident"]
    assert saved["errors"] == []
    assert saved["incident"] == {
        "status": "RESOLVED",
        "priority": "NORMAL",
        "impact": "LOW",
        "urgency": "HIGH",
        "dueDate": "2020-01-01T00:00:00+00:00",
        "isOverdue": False,
        "task": "Export step",
        "type": "DEFECT",
        "version": commented["incident"]["version"] + 1,
    }

    # Then the history tells the whole story, field by field
    data = await gql.execute(INCIDENT, {"number": 1}, as_=reporter)
    history = data["incident"]["history"]
    kinds = [(e["kind"], e["field"], e["from"], e["to"]) for e in history["nodes"]]
    assert kinds == [
        ("REPORTED", None, None, None),
        ("WATCHERS_CHANGED", "watchers", "", "Rita Reporter"),
        ("COMMENTED", None, None, "Since Monday"),
        ("ASSIGNED", "assignedTo", None, "Ada Agent"),
        ("SUPPORTERS_CHANGED", "supportedBy", "", "Hugo Helper"),
        ("STATUS_CHANGED", "status", "NEW", "IN_PROGRESS"),
        ("COMMENTED", None, None, "On it"),
        ("COMMENTED", None, None, "The export service logs a timeout"),
        ("REFERENCE_ADDED", "references", None, "Log"),
        ("STATUS_CHANGED", "status", "IN_PROGRESS", "RESOLVED"),
        ("UPDATED", "task", None, "Export step"),
        ("PRIORITY_CHANGED", "impact", "HIGH", "LOW"),
        ("PRIORITY_CHANGED", "priority", "URGENT", "NORMAL"),
        ("DUE_DATE_CHANGED", "dueDate", None, "2020-01-01T00:00:00+00:00"),
        ("COMMENTED", None, None, "Fixed by the new export timeout"),
    ]
    assert history["totalCount"] == len(kinds)

    # And "My incidents" of the helper and the dashboard counts show it
    data = await gql.execute(DASHBOARD, {"user": helper.id}, as_=helper)
    assert data["incidents"] == {"totalCount": 1, "nodes": [{"number": 1}]}
    assert data["dashboard"]["total"] == 1
    assert data["dashboard"]["open"] == 0
    assert {"status": "RESOLVED", "count": 1} in data["dashboard"]["byStatus"]
