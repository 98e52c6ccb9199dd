"""Demo data at scale: ``demo.fill`` writes incidents that keep every invariant the service
keeps (numbers and counter, ranks, versions, history, search document), that the API reads,
and after which the service goes on numbering and writing as usual."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from tortoise import connections

from gql_support import demo
from gql_support.accounts.models import Role
from gql_support.incidents import reminders, service
from gql_support.incidents.changes import IncidentChanges
from gql_support.incidents.models import (
    PRIORITY_RANK,
    STATUS_RANK,
    Comment,
    Incident,
    IncidentCounter,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
    IncidentSupporter,
    Reference,
)
from gql_support.incidents.search import vector_sql
from gql_support.incidents.workflow import TRANSITIONS, priority_of
from gql_support.notify.models import NoticeReason, OutboxMessage
from gql_support.settings import Settings
from tests.conftest import GraphQLClient, MakePerson

PAGE = """
query Page($filter: IncidentFilter) {
  incidents(filter: $filter, first: 50, orderBy: {field: NUMBER, direction: DESC}) {
    totalCount
    nodes {
      number description status priority dueDate
      reporter { name } assignedTo { name } supportedBy { name } comments { totalCount }
    }
  }
}
"""


async def test_demo_incidents_keep_the_service_invariants(
    make_person: MakePerson, backend: str
) -> None:
    await make_person(Role.MANAGER)
    filled = await demo.fill(incidents=120, users=60, comments=400)
    assert (filled.counts["incident"], filled.counts["comment"]) == (120, 400)

    incidents = await Incident.all().order_by("number")
    counter = await IncidentCounter.get(id=1)
    assert [i.number for i in incidents] == list(range(1, 121))
    assert counter.value == 120
    events: dict[int, list[IncidentEvent]] = defaultdict(list)
    for event in await IncidentEvent.all().order_by("id"):
        events[event.incident_id].append(event)
    comments: dict[int, list[str]] = defaultdict(list)
    for comment in await Comment.all().order_by("id"):
        comments[comment.incident_id].append(comment.body)
    labels: dict[int, list[str]] = defaultdict(list)
    for reference in await Reference.all().order_by("id"):
        labels[reference.incident_id].append(reference.label)
    supporters: dict[int, int] = defaultdict(int)
    for link in await IncidentSupporter.all():
        supporters[link.incident_id] += 1
    for incident in incidents:
        history = events[incident.id]
        assert history[0].kind == IncidentEventKind.REPORTED
        # One version per change: the report, then one per batch of entries.
        assert incident.version == len({event.at for event in history})
        assert incident.priority == priority_of(incident.impact, incident.urgency)
        assert incident.priority_rank == PRIORITY_RANK[incident.priority]
        assert incident.status_rank == STATUS_RANK[incident.status]
        moves = [e for e in history if e.kind == IncidentEventKind.STATUS_CHANGED]
        status = IncidentStatus.NEW
        for move in moves:
            assert move.from_value == status
            assert IncidentStatus(move.to_value) in TRANSITIONS[status]
            status = IncidentStatus(str(move.to_value))
        assert incident.status == status
        assigned = [e for e in history if e.kind == IncidentEventKind.ASSIGNED]
        assert (incident.assigned_to_id is None) == (not assigned)
        commented = [e.to_value for e in history if e.kind == IncidentEventKind.COMMENTED]
        assert commented == [body[:200] for body in comments[incident.id]]
        assert incident.search_document == "\n".join(
            [incident.description, *labels[incident.id], *comments[incident.id]]
        )
        changed = [e for e in history if e.kind == IncidentEventKind.SUPPORTERS_CHANGED]
        assert (supporters[incident.id] > 0) == bool(changed)
    assert sum(1 for i in incidents if comments[i.id]) > 30
    if backend == "postgres":
        # The stored vector holds the document's words, as the search trigger would have it.
        client = connections.get("default")
        rows = await client.execute_query_dict(
            f"SELECT count(*) AS n FROM incident WHERE search_vector IS NULL OR"
            f" strip(search_vector) <> strip({vector_sql('search_document')})"
        )
        assert rows == [{"n": 0}]


async def test_the_service_and_the_api_carry_on_after_demo_data(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    manager = await make_person(Role.MANAGER)
    await demo.fill(incidents=230, users=60)
    await demo.fill(incidents=20, users=10, comments=0)

    page = (await gql.execute(PAGE, as_=manager))["incidents"]
    assert page["totalCount"] == 250
    assert [n["number"] for n in page["nodes"]] == list(range(250, 200, -1))
    word = demo.TOPICS[7]
    found = await gql.execute(PAGE, {"filter": {"search": word}}, as_=manager)
    expected = [i.number for i in await Incident.all().order_by("-number") if word in i.description]
    assert len(expected) >= 2
    assert [n["number"] for n in found["incidents"]["nodes"]] == expected

    reported = await service.report_incident(actor=manager.user, description="After the demo")
    assert reported.number == 251
    done = await service.edit_incident(
        actor=manager.user,
        incident_id=reported.id,
        changes=IncidentChanges(comment="Still numbered and written as usual"),
    )
    assert done.comment is not None
    assert done.incident.version == 2


async def test_demo_due_dates_gone_by_are_marked_as_reminded_of(
    make_person: MakePerson, settings: Settings
) -> None:
    # Given demo incidents, due dates spread over the last year and the coming weeks
    await make_person(Role.MANAGER)
    before = datetime.now(UTC)
    await demo.fill(incidents=150, users=60, comments=0)
    after = datetime.now(UTC)

    # Then each due date gone by is marked as reminded of, due soon and overdue, as a desk
    # that had been running would have it; those to come are not
    incidents = await Incident.filter(due_date__isnull=False)
    second = timedelta(seconds=1)
    gone = [i for i in incidents if i.due_date is not None and i.due_date < before - second]
    to_come = [i for i in incidents if i.due_date is not None and i.due_date > after]
    assert gone
    assert to_come
    for incident in gone:
        assert incident.due_soon_sent_for == incident.overdue_sent_for == incident.due_date
    for incident in to_come:
        assert incident.due_soon_sent_for is incident.overdue_sent_for is None
    assert any(i.status in reminders.REMINDED_STATUSES for i in gone)

    # and the worker's first pass, however far back it catches up, emails none of them overdue
    await OutboxMessage.all().delete()
    catch_up = settings.model_copy(update={"reminder_catch_up_hours": 24 * 400})
    await reminders.queue_due(now=after, settings=catch_up)
    assert await OutboxMessage.filter(reason=NoticeReason.OVERDUE).count() == 0
