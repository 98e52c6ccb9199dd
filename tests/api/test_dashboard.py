"""The incident dashboard over HTTP: every filter of `incidents`, every ordering in both
directions, keyset pagination, page limits, totalCount, and the `dashboard` figures."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from gql_support.accounts.models import Role
from gql_support.api.ids import to_global_id
from gql_support.incidents import service
from gql_support.incidents.changes import IncidentChanges, NewReference
from gql_support.incidents.models import (
    Impact,
    Incident,
    IncidentCounter,
    IncidentStatus,
    IncidentType,
    Urgency,
)
from gql_support.incidents.queries import OrderField
from tests.conftest import GraphQLClient, MakePerson, Person

INCIDENTS = """
query Incidents($filter: IncidentFilter, $orderBy: IncidentOrder, $first: Int, $after: String) {
  incidents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { number } }
  }
}
"""

NUMBERS = """
query Numbers($filter: IncidentFilter, $orderBy: IncidentOrder, $first: Int, $after: String) {
  incidents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    nodes { number }
  }
}
"""

DASHBOARD = """
query Dashboard($filter: IncidentFilter) {
  dashboard(filter: $filter) {
    total open overdue
    byStatus { status count }
    byPriority { priority count }
  }
}
"""

FEB = datetime(2020, 2, 1, 12, 0, tzinfo=UTC)
MARCH = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)
FAR = datetime(2100, 1, 1, 0, 0, tzinfo=UTC)


@dataclass
class Desk:
    """Five incidents, each chosen to sit in or out of every filter:

    | # | reporter | type | priority | status | assignee | supporters | watchers | due |
    |---|---|---|---|---|---|---|---|---|
    | 1 | Rita | DEFECT | URGENT | NEW | Ada | Hugo | | 2020-03-01 (overdue) |
    | 2 | Olga | CHANGE_REQUEST | LOW | IN_PROGRESS | Hugo | | Walt | |
    | 3 | Max | CLARIFICATION | NORMAL | NEW | | | | 2100-01-01 |
    | 4 | Rita | DEFECT | HIGH | CLOSED | Ada | | | 2020-02-01 (closed) |
    | 5 | Olga | DEFECT | LOW | ON_HOLD | | Ada | Rita | |

    Updated last, in this order: #4, #2, #5.
    """

    rita: Person
    olga: Person
    max: Person
    ada: Person
    hugo: Person
    walt: Person


@pytest.fixture
async def desk(make_person: MakePerson) -> Desk:
    return await make_desk(make_person)


async def make_desk(make_person: MakePerson) -> Desk:
    """The five incidents of ``Desk`` (also exported in tests/api/test_export.py)."""
    rita = await make_person(Role.USER, name="Rita Reporter")
    olga = await make_person(Role.USER, name="Olga Other")
    max_ = await make_person(Role.MANAGER, name="Max Manager")
    ada = await make_person(Role.AGENT, name="Ada Agent")
    hugo = await make_person(Role.AGENT, name="Hugo Helper")
    walt = await make_person(Role.USER, name="Walt Watcher")

    async def report(
        actor: Person,
        description: str,
        type_: IncidentType,
        impact: Impact,
        urgency: Urgency,
        **changes: Any,
    ) -> Incident:
        return await service.report_incident(
            actor=actor.user,
            description=description,
            type=type_,
            impact=impact,
            urgency=urgency,
            changes=IncidentChanges(**changes),
        )

    # Managers report with an assignee; others are assigned afterwards by the manager.
    first = await report(
        rita, "Printer on floor two jams", IncidentType.DEFECT, Impact.HIGH, Urgency.HIGH
    )
    await service.edit_incident(
        actor=max_.user,
        incident_id=first.id,
        changes=IncidentChanges(
            assigned_to_id=ada.user.id, supported_by_ids=[hugo.user.id], due_date=MARCH
        ),
    )
    second = await report(
        olga,
        "Excel export times out",
        IncidentType.CHANGE_REQUEST,
        Impact.LOW,
        Urgency.LOW,
        watcher_ids=[walt.user.id],
        comment="The vendor confirmed the timeout",
    )
    await service.assign_incident(
        actor=max_.user, incident_id=second.id, assigned_to_id=hugo.user.id
    )
    await report(
        max_,
        "Question about the budget screen",
        IncidentType.CLARIFICATION,
        Impact.MEDIUM,
        Urgency.MEDIUM,
        due_date=FAR,
        references=[NewReference(label="Wiki page about kangaroos")],
    )
    fourth = await report(
        rita,
        "Login page stays blank",
        IncidentType.DEFECT,
        Impact.HIGH,
        Urgency.MEDIUM,
        comment="L'imprimante du deuxième étage affiche aussi une page blanche",
    )
    await service.edit_incident(
        actor=max_.user,
        incident_id=fourth.id,
        changes=IncidentChanges(assigned_to_id=ada.user.id, due_date=FEB),
    )
    fifth = await report(
        olga,
        "Report totals are wrong",
        IncidentType.DEFECT,
        Impact.MEDIUM,
        Urgency.LOW,
        watcher_ids=[rita.user.id],
    )
    await service.edit_incident(
        actor=max_.user,
        incident_id=fifth.id,
        changes=IncidentChanges(supported_by_ids=[ada.user.id]),
    )
    # The last updates, in a known order.
    await service.update_status(
        actor=max_.user, incident_id=fourth.id, status=IncidentStatus.CLOSED
    )
    await service.update_status(
        actor=max_.user, incident_id=second.id, status=IncidentStatus.IN_PROGRESS
    )
    await service.update_status(
        actor=max_.user, incident_id=fifth.id, status=IncidentStatus.ON_HOLD
    )
    return Desk(rita=rita, olga=olga, max=max_, ada=ada, hugo=hugo, walt=walt)


async def numbers(
    gql: GraphQLClient,
    as_: Person,
    filter_: dict[str, Any] | None = None,
    order_by: dict[str, str] | None = None,
    first: int | None = 100,
) -> list[int]:
    data = await gql.execute(
        NUMBERS, {"filter": filter_, "orderBy": order_by, "first": first}, as_=as_
    )
    return [node["number"] for node in data["incidents"]["nodes"]]


BY_NUMBER = {"field": "NUMBER", "direction": "ASC"}


# ----------------------------------------------------------------------------------------------
# Filters


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, [1, 2, 3, 4, 5]),
        ({"status": ["NEW"]}, [1, 3]),
        ({"status": ["CLOSED", "ON_HOLD"]}, [4, 5]),
        ({"status": ["RESOLVED"]}, []),
        ({"priority": ["LOW"]}, [2, 5]),
        ({"priority": ["URGENT", "HIGH"]}, [1, 4]),
        ({"priority": ["NORMAL"]}, [3]),
        ({"type": ["DEFECT"]}, [1, 4, 5]),
        ({"type": ["CLARIFICATION", "CHANGE_REQUEST"]}, [2, 3]),
        ({"status": ["NEW"], "priority": ["NORMAL", "LOW"]}, [3]),
        ({"status": ["NEW", "CLOSED"], "type": ["DEFECT"]}, [1, 4]),
    ],
)
async def test_filter_by_status_priority_and_type(
    gql: GraphQLClient, desk: Desk, filter_: dict[str, Any], expected: list[int]
) -> None:
    # Given the desk, when a manager filters, then exactly the matching incidents show
    assert await numbers(gql, desk.max, filter_, BY_NUMBER) == expected


async def test_filter_by_assignee(gql: GraphQLClient, desk: Desk) -> None:
    assert await numbers(gql, desk.max, {"assignedToId": desk.ada.id}, BY_NUMBER) == [1, 4]
    assert await numbers(gql, desk.max, {"assignedToId": desk.hugo.id}, BY_NUMBER) == [2]
    assert await numbers(gql, desk.max, {"assignedToId": desk.max.id}, BY_NUMBER) == []


async def test_my_incidents_are_those_reported_assigned_or_supported(
    gql: GraphQLClient, desk: Desk
) -> None:
    # Ada is the assignee of #1 and #4 and supports #5
    assert await numbers(gql, desk.ada, {"involvingUserId": desk.ada.id}, BY_NUMBER) == [1, 4, 5]
    # Hugo is the assignee of #2 and supports #1
    assert await numbers(gql, desk.hugo, {"involvingUserId": desk.hugo.id}, BY_NUMBER) == [1, 2]
    # Rita reported #1 and #4; watching #5 does not make it hers
    assert await numbers(gql, desk.rita, {"involvingUserId": desk.rita.id}, BY_NUMBER) == [1, 4]
    assert await numbers(gql, desk.max, {"involvingUserId": desk.max.id}, BY_NUMBER) == [3]
    # Walt only watches
    assert await numbers(gql, desk.walt, {"involvingUserId": desk.walt.id}, BY_NUMBER) == []


async def test_filter_by_watcher(gql: GraphQLClient, desk: Desk) -> None:
    assert await numbers(gql, desk.walt, {"watchedByUserId": desk.walt.id}, BY_NUMBER) == [2]
    assert await numbers(gql, desk.rita, {"watchedByUserId": desk.rita.id}, BY_NUMBER) == [5]
    assert await numbers(gql, desk.ada, {"watchedByUserId": desk.ada.id}, BY_NUMBER) == []


async def test_filter_overdue(gql: GraphQLClient, desk: Desk) -> None:
    # Only #1 is past due and open (#4 is past due but closed)
    assert await numbers(gql, desk.max, {"overdue": True}, BY_NUMBER) == [1]


async def test_filter_not_overdue_includes_incidents_without_a_due_date(
    gql: GraphQLClient, desk: Desk
) -> None:
    # Not overdue: #3 (due later), #4 (closed), and #2 and #5, which have no due date at all
    assert await numbers(gql, desk.max, {"overdue": False}, BY_NUMBER) == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # dueAfter <= due < dueBefore
        ({"dueBefore": MARCH.isoformat()}, [4]),
        ({"dueAfter": MARCH.isoformat()}, [1, 3]),
        ({"dueAfter": FEB.isoformat(), "dueBefore": MARCH.isoformat()}, [4]),
        ({"dueAfter": FEB.isoformat(), "dueBefore": FAR.isoformat()}, [1, 4]),
        ({"dueAfter": "2030-01-01T00:00:00+00:00"}, [3]),
        ({"dueBefore": "2020-01-01T00:00:00+00:00"}, []),
    ],
)
async def test_filter_by_due_range(
    gql: GraphQLClient, desk: Desk, filter_: dict[str, Any], expected: list[int]
) -> None:
    assert await numbers(gql, desk.max, filter_, BY_NUMBER) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # in a description
        ("jams", [1]),
        ("Excel", [2]),
        # in a comment
        ("vendor", [2]),
        # in a reference label
        ("kangaroos", [3]),
        # every word must match, wherever it is
        ("excel vendor", [2]),
        ("printer vendor", []),
        ("page", [3, 4]),
        ("   ", [1, 2, 3, 4, 5]),
        ("nowhere", []),
    ],
)
async def test_search_words_in_description_comments_and_references(
    gql: GraphQLClient, desk: Desk, search: str, expected: list[int]
) -> None:
    assert await numbers(gql, desk.max, {"search": search}, BY_NUMBER) == expected


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        # French stemming: the plural finds the singular, in a comment
        ("imprimantes", [4]),
        # only the French stemmer takes "affichaient" to the stem of "affiche"
        ("affichaient", [4]),
        # English stemming: the plural finds the singular, in a description
        ("printers", [1]),
        ("jam", [1]),
        ("printers jammed", [1]),
        ("kangaroo", [3]),
        ("confirms", [2]),
    ],
)
async def test_search_stems_english_and_french_words_on_postgres(
    gql: GraphQLClient, desk: Desk, backend: str, search: str, expected: list[int]
) -> None:
    assert await numbers(gql, desk.max, {"search": search}, BY_NUMBER) == expected


async def test_filters_combine_with_and(gql: GraphQLClient, desk: Desk) -> None:
    mine_and_new = {"involvingUserId": desk.ada.id, "status": ["NEW"]}
    assert await numbers(gql, desk.ada, mine_and_new, BY_NUMBER) == [1]
    mine_and_overdue = {"involvingUserId": desk.hugo.id, "overdue": True, "priority": ["URGENT"]}
    assert await numbers(gql, desk.hugo, mine_and_overdue, BY_NUMBER) == [1]
    assert await numbers(gql, desk.ada, {"search": "page", "assignedToId": desk.ada.id}) == [4]


async def test_a_filter_naming_something_else_than_a_user_is_an_error(
    gql: GraphQLClient, desk: Desk
) -> None:
    response = await gql.post(
        NUMBERS,
        {"filter": {"assignedToId": to_global_id("Incident", 1)}},
        as_=desk.max,
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# ----------------------------------------------------------------------------------------------
# Ordering and pagination

ORDERS = {
    # Ties (LOW: #2 and #5; NEW: #1 and #3) break on the id, in the same direction.
    ("NUMBER", "ASC"): [1, 2, 3, 4, 5],
    ("NUMBER", "DESC"): [5, 4, 3, 2, 1],
    ("PRIORITY", "ASC"): [1, 4, 3, 2, 5],
    ("PRIORITY", "DESC"): [5, 2, 3, 4, 1],
    ("STATUS", "ASC"): [1, 3, 2, 4, 5],
    ("STATUS", "DESC"): [5, 4, 2, 3, 1],
    # Incidents without a due date come last in ascending order
    ("DUE_DATE", "ASC"): [4, 1, 3, 2, 5],
    ("DUE_DATE", "DESC"): [5, 2, 3, 1, 4],
    ("CREATED_AT", "ASC"): [1, 2, 3, 4, 5],
    ("CREATED_AT", "DESC"): [5, 4, 3, 2, 1],
    ("UPDATED_AT", "ASC"): [1, 3, 4, 2, 5],
    ("UPDATED_AT", "DESC"): [5, 2, 4, 3, 1],
}


def test_every_order_field_is_covered() -> None:
    assert {field for field, _ in ORDERS} == {f.value for f in OrderField}


@pytest.mark.parametrize(("field", "direction"), list(ORDERS))
async def test_order_by_every_field_both_ways(
    gql: GraphQLClient, desk: Desk, field: str, direction: str
) -> None:
    order = {"field": field, "direction": direction}
    assert await numbers(gql, desk.max, None, order) == ORDERS[field, direction]


async def test_default_order_is_newest_number_first(gql: GraphQLClient, desk: Desk) -> None:
    assert await numbers(gql, desk.max, first=None) == [5, 4, 3, 2, 1]


async def walk(
    gql: GraphQLClient,
    as_: Person,
    order: dict[str, str] | None,
    *,
    first: int,
    filter_: dict[str, Any] | None = None,
) -> tuple[list[int], list[dict[str, Any]]]:
    """Follows endCursor until the last page; returns the numbers seen and every page."""
    seen: list[int] = []
    pages: list[dict[str, Any]] = []
    after = None
    for _ in range(100):
        data = await gql.execute(
            INCIDENTS,
            {"filter": filter_, "orderBy": order, "first": first, "after": after},
            as_=as_,
        )
        page = data["incidents"]
        pages.append(page)
        seen.extend(edge["node"]["number"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return seen, pages
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize(("field", "direction"), list(ORDERS))
async def test_walking_pages_of_two_collects_every_incident_once_in_order(
    gql: GraphQLClient, desk: Desk, field: str, direction: str
) -> None:
    order = {"field": field, "direction": direction}
    seen, pages = await walk(gql, desk.max, order, first=2)
    assert seen == ORDERS[field, direction]
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    for page in pages:
        assert page["totalCount"] == 5
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_walking_a_filtered_list(gql: GraphQLClient, desk: Desk) -> None:
    order = {"field": "PRIORITY", "direction": "DESC"}
    seen, pages = await walk(
        gql, desk.ada, order, first=1, filter_={"involvingUserId": desk.ada.id}
    )
    assert seen == [5, 4, 1]
    assert [p["totalCount"] for p in pages] == [3, 3, 3]


async def test_cursors_survive_ties_across_page_boundaries(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given twelve incidents of one priority, status and due date: every sort key ties
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    for n in range(12):
        await service.report_incident(
            actor=manager.user,
            description=f"Same again {n}",
            changes=IncidentChanges(due_date=MARCH),
        )
    for field in ("PRIORITY", "STATUS", "DUE_DATE"):
        for direction in ("ASC", "DESC"):
            # When walking pages of five
            seen, _ = await walk(gql, reporter, {"field": field, "direction": direction}, first=5)
            # Then the id decides, and nothing is lost or repeated
            expected = list(range(1, 13)) if direction == "ASC" else list(range(12, 0, -1))
            assert seen == expected, (field, direction)


def _cursor(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "after",
    [
        "garbage",
        "!!!",
        _cursor(["NUMBER", 3]),
        _cursor({"field": "NUMBER"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
    ids=["text", "punctuation", "short-list", "object", "not-utf8"],
)
async def test_a_garbage_cursor_is_an_error(gql: GraphQLClient, desk: Desk, after: str) -> None:
    response = await gql.post(NUMBERS, {"first": 2, "after": after}, as_=desk.max)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert body["errors"][0]["extensions"]["field"] == ["after"]


async def test_a_cursor_from_another_ordering_is_an_error(gql: GraphQLClient, desk: Desk) -> None:
    # Given a cursor of the list ordered by number
    data = await gql.execute(INCIDENTS, {"first": 2, "orderBy": BY_NUMBER}, as_=desk.max)
    cursor = data["incidents"]["pageInfo"]["endCursor"]
    # When it is used with the list ordered by priority, then it is refused
    response = await gql.post(
        NUMBERS,
        {"first": 2, "after": cursor, "orderBy": {"field": "PRIORITY", "direction": "ASC"}},
        as_=desk.max,
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "another ordering" in body["errors"][0]["message"]
    # And the same cursor still works in its own ordering
    assert await numbers(gql, desk.max, None, BY_NUMBER, first=2) == [1, 2]
    data = await gql.execute(
        NUMBERS, {"first": 2, "after": cursor, "orderBy": BY_NUMBER}, as_=desk.max
    )
    assert [n["number"] for n in data["incidents"]["nodes"]] == [3, 4]


@pytest.mark.parametrize(
    "after",
    [
        _cursor(["CREATED_AT", "not a date", 1]),
        _cursor(["NUMBER", "three", 1]),
        _cursor(["NUMBER", 3, "one"]),
    ],
    ids=["date-not-a-date", "number-not-a-number", "id-not-a-number"],
)
async def test_a_tampered_cursor_is_invalid_input(
    gql: GraphQLClient, desk: Desk, after: str
) -> None:
    field = json.loads(base64.urlsafe_b64decode(after))[0]
    response = await gql.post(
        NUMBERS,
        {"first": 2, "after": after, "orderBy": {"field": field, "direction": "ASC"}},
        as_=desk.max,
    )
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def _fill(count: int, reporter: Person) -> None:
    """Reports ``count`` incidents quickly, numbered 1..count."""
    await Incident.bulk_create(
        [
            Incident(
                number=n,
                description=f"Incident {n}",
                type=IncidentType.DEFECT,
                impact=Impact.MEDIUM,
                urgency=Urgency.MEDIUM,
                priority="NORMAL",
                priority_rank=2,
                status=IncidentStatus.NEW,
                status_rank=0,
                reporter_id=reporter.user.id,
                search_document=f"Incident {n}",
            )
            for n in range(1, count + 1)
        ]
    )
    await IncidentCounter.filter(id=1).update(value=count)


async def test_first_is_capped_at_100(gql: GraphQLClient, make_person: MakePerson) -> None:
    # Given 105 incidents
    reporter = await make_person(Role.USER)
    await _fill(105, reporter)
    # When asking for 500 at once
    data = await gql.execute(INCIDENTS, {"first": 500, "orderBy": BY_NUMBER}, as_=reporter)
    page = data["incidents"]
    # Then a page holds 100, and the rest follows
    assert [e["node"]["number"] for e in page["edges"]] == list(range(1, 101))
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 105
    data = await gql.execute(
        INCIDENTS,
        {"first": 500, "orderBy": BY_NUMBER, "after": page["pageInfo"]["endCursor"]},
        as_=reporter,
    )
    rest = data["incidents"]
    assert [e["node"]["number"] for e in rest["edges"]] == list(range(101, 106))
    assert rest["pageInfo"]["hasNextPage"] is False
    # And the default page is 50
    data = await gql.execute(INCIDENTS, {}, as_=reporter)
    assert [e["node"]["number"] for e in data["incidents"]["edges"]] == list(range(105, 55, -1))


async def test_first_at_the_edges(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(INCIDENTS, {"first": 0}, as_=desk.max)
    assert data["incidents"]["edges"] == []
    assert data["incidents"]["pageInfo"]["hasNextPage"] is True
    assert data["incidents"]["totalCount"] == 5
    response = await gql.post(INCIDENTS, {"first": -1}, as_=desk.max)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert body["errors"][0]["extensions"]["field"] == ["first"]


@pytest.mark.parametrize(
    ("filter_", "total"),
    [
        (None, 5),
        ({"status": ["NEW"]}, 2),
        ({"priority": ["LOW"], "type": ["DEFECT"]}, 1),
        ({"search": "nowhere"}, 0),
    ],
)
async def test_total_count_counts_the_whole_filtered_list(
    gql: GraphQLClient, desk: Desk, filter_: dict[str, Any] | None, total: int
) -> None:
    data = await gql.execute(INCIDENTS, {"filter": filter_, "first": 1}, as_=desk.max)
    assert data["incidents"]["totalCount"] == total
    assert len(data["incidents"]["edges"]) == min(total, 1)


# ----------------------------------------------------------------------------------------------
# Dashboard figures


def _statuses(**counts: int) -> list[dict[str, Any]]:
    return [{"status": s.value, "count": counts.get(s.value, 0)} for s in IncidentStatus]


async def test_dashboard_counts_every_bucket(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(DASHBOARD, {}, as_=desk.rita)
    assert data["dashboard"] == {
        "total": 5,
        "open": 4,
        "overdue": 1,
        "byStatus": _statuses(NEW=2, IN_PROGRESS=1, CLOSED=1, ON_HOLD=1),
        "byPriority": [
            {"priority": "URGENT", "count": 1},
            {"priority": "HIGH", "count": 1},
            {"priority": "NORMAL", "count": 1},
            {"priority": "LOW", "count": 2},
        ],
    }


async def test_dashboard_counts_what_the_filter_selects(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(DASHBOARD, {"filter": {"involvingUserId": desk.ada.id}}, as_=desk.ada)
    assert data["dashboard"] == {
        "total": 3,
        "open": 2,
        "overdue": 1,
        "byStatus": _statuses(NEW=1, CLOSED=1, ON_HOLD=1),
        "byPriority": [
            {"priority": "URGENT", "count": 1},
            {"priority": "HIGH", "count": 1},
            {"priority": "NORMAL", "count": 0},
            {"priority": "LOW", "count": 1},
        ],
    }


async def test_dashboard_of_nothing_has_zero_buckets(gql: GraphQLClient, desk: Desk) -> None:
    data = await gql.execute(DASHBOARD, {"filter": {"search": "nowhere"}}, as_=desk.walt)
    assert data["dashboard"] == {
        "total": 0,
        "open": 0,
        "overdue": 0,
        "byStatus": _statuses(),
        "byPriority": [{"priority": p, "count": 0} for p in ("URGENT", "HIGH", "NORMAL", "LOW")],
    }


async def test_dashboard_of_incidents_not_overdue(gql: GraphQLClient, desk: Desk) -> None:
    # #2, #3, #4 and #5 are not overdue (#2 and #5 have no due date)
    data = await gql.execute(DASHBOARD, {"filter": {"overdue": False}}, as_=desk.max)
    assert data["dashboard"]["total"] == 4
    assert data["dashboard"]["overdue"] == 0
    assert data["dashboard"]["byStatus"] == _statuses(NEW=1, IN_PROGRESS=1, CLOSED=1, ON_HOLD=1)
