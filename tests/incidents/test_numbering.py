"""Request IDs are gapless: concurrent reports get 1..N exactly, and a report refused inside
its transaction gives its number back."""

from __future__ import annotations

import asyncio
from typing import Any

from gql_support.accounts.models import Role
from gql_support.api.ids import to_global_id
from gql_support.incidents.models import Incident, IncidentCounter
from tests.conftest import GraphQLClient, MakePerson

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) {
    incident { number description }
    errors { code message field }
  }
}
"""

NUMBERS = """
query { incidents(first: 100, orderBy: {field: NUMBER, direction: ASC}) {
  totalCount nodes { number description }
} }
"""


async def test_concurrent_reports_get_every_number_once(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given five reporters
    reporters = [await make_person(Role.USER) for _ in range(5)]

    # When 50 reports arrive at once
    results = await asyncio.gather(
        *(
            gql.execute(
                REPORT, {"input": {"description": f"Report {n}"}}, as_=reporters[n % len(reporters)]
            )
            for n in range(50)
        )
    )

    # Then each got a number, and the numbers are exactly 1..50
    payloads = [r["reportIncident"] for r in results]
    assert all(p["errors"] == [] for p in payloads)
    assert sorted(p["incident"]["number"] for p in payloads) == list(range(1, 51))
    # And each number belongs to the report that received it
    by_description = {p["incident"]["description"]: p["incident"]["number"] for p in payloads}
    data = await gql.execute(NUMBERS, as_=reporters[0])
    assert data["incidents"]["totalCount"] == 50
    assert {n["description"]: n["number"] for n in data["incidents"]["nodes"]} == by_description
    assert (await IncidentCounter.get(id=1)).value == 50


async def test_concurrent_reports_mixed_with_refused_ones_leave_no_gap(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given four reporters (each within the write budget), and a watcher id that names nobody
    reporters = [await make_person(Role.USER) for _ in range(4)]
    nobody = to_global_id("User", 999_999)

    # When 30 good reports and 10 refused inside the transaction arrive at once
    def report(n: int) -> Any:
        reporter = reporters[n % len(reporters)]
        watcher = nobody if n % 4 == 3 else reporter.id
        return gql.execute(
            REPORT,
            {"input": {"description": f"Report {n}", "watcherIds": [watcher]}},
            as_=reporter,
        )

    payloads = [r["reportIncident"] for r in await asyncio.gather(*(report(n) for n in range(40)))]

    # Then the refused ones took no number, and the others are exactly 1..30
    refused = [p for p in payloads if p["incident"] is None]
    assert len(refused) == 10
    assert {e["code"] for p in refused for e in p["errors"]} == {"NOT_FOUND"}
    numbers = sorted(p["incident"]["number"] for p in payloads if p["incident"] is not None)
    assert numbers == list(range(1, 31))
    assert await Incident.all().count() == 30


async def test_a_report_refused_inside_its_transaction_does_not_use_a_number(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given a first incident, and a user who has left
    reporter = await make_person(Role.USER)
    gone = await make_person(Role.USER, name="Gone Away")
    gone.user.is_active = False
    await gone.user.save()
    first = await gql.execute(REPORT, {"input": {"description": "First"}}, as_=reporter)
    assert first["reportIncident"]["incident"]["number"] == 1

    # When a report names a watcher who does not exist
    unknown = await gql.execute(
        REPORT,
        {"input": {"description": "Lost", "watcherIds": [to_global_id("User", 999_999)]}},
        as_=reporter,
    )
    # And another names an inactive watcher
    inactive = await gql.execute(
        REPORT, {"input": {"description": "Lost too", "watcherIds": [gone.id]}}, as_=reporter
    )

    # Then both are refused
    assert unknown["reportIncident"]["incident"] is None
    assert [e["code"] for e in unknown["reportIncident"]["errors"]] == ["NOT_FOUND"]
    assert inactive["reportIncident"]["incident"] is None
    assert [(e["code"], e["field"]) for e in inactive["reportIncident"]["errors"]] == [
        ("INVALID_INPUT", ["input", "watcherIds"])
    ]
    # And the next report takes the number right after the first
    second = await gql.execute(REPORT, {"input": {"description": "Second"}}, as_=reporter)
    assert second["reportIncident"]["incident"]["number"] == 2
    data = await gql.execute(NUMBERS, as_=reporter)
    assert data["incidents"]["nodes"] == [
        {"number": 1, "description": "First"},
        {"number": 2, "description": "Second"},
    ]
    assert (await IncidentCounter.get(id=1)).value == 2
