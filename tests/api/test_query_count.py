"""The N+1 guard: one dashboard request runs the same number of SQL statements whatever the
page size, because every list field goes through a DataLoader."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from gql_support.accounts.models import Role
from gql_support.incidents import queries, service
from gql_support.incidents.changes import IncidentChanges, NewReference
from tests.conftest import GraphQLClient, MakePerson, Person

DASHBOARD = """
query Dashboard($first: Int!) {
  incidents(first: $first, orderBy: {field: NUMBER, direction: ASC}) {
    nodes {
      number
      reporter { name }
      assignedTo { name }
      supportedBy { name }
      watchers { name }
      comments { totalCount }
      references { label }
      allowedTransitions
    }
  }
}
"""

#: Tortoise logs every statement it sends, on every backend, to this logger at DEBUG, as
#: ``"%s: %s" % (sql, values)`` (or the bare SQL for scripts).
QUERY_LOGGER = "tortoise.db_client"
#: The bearer-token lookup of the authentication middleware: once per request whatever the
#: query, so left out of the count.
AUTH_TABLE = '"api_token"'


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.args:
            # A script (no parameters), or a connection opening or closing.
            message = record.getMessage()
            if message.startswith(("Created connection", "Closed connection")):
                return
            self.sql.append(message)
            return
        assert isinstance(record.args, tuple)
        self.sql.append(str(record.args[0]))


H = TypeVar("H", bound=logging.Handler)


@contextmanager
def query_log(handler: H) -> Iterator[H]:
    """Hands every statement Tortoise logs inside the block to ``handler``."""
    logger = logging.getLogger(QUERY_LOGGER)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements Tortoise runs inside the block."""
    with query_log(_Statements()) as handler:
        yield handler.sql


async def dashboard_statements(
    gql: GraphQLClient, viewer: Person, first: int
) -> tuple[list[str], list[dict[str, Any]]]:
    with statements() as sql:
        data = await gql.execute(DASHBOARD, {"first": first}, as_=viewer)
    nodes = data["incidents"]["nodes"]
    return [s for s in sql if AUTH_TABLE not in s], nodes


async def test_dashboard_statements_do_not_grow_with_the_page(
    gql: GraphQLClient, make_person: MakePerson
) -> None:
    # Given 50 incidents by five reporters, each assigned, with 2 supporters, 2 watchers,
    # 2 comments and a reference, among ten agents
    manager = await make_person(Role.MANAGER, name="Max Manager")
    agents = [await make_person(Role.AGENT, name=f"Agent {n:02}") for n in range(10)]
    reporters = [await make_person(Role.USER, name=f"Reporter {n}") for n in range(5)]
    for n in range(50):
        incident = await service.report_incident(
            actor=manager.user,
            description=f"Incident {n + 1}",
            changes=IncidentChanges(
                assigned_to_id=agents[n % 10].user.id,
                supported_by_ids=[agents[(n + 1) % 10].user.id, agents[(n + 2) % 10].user.id],
                watcher_ids=[reporters[n % 5].user.id, agents[(n + 3) % 10].user.id],
                comment=f"First comment on {n + 1}",
                references=[NewReference(label=f"Ticket {n + 1}")],
            ),
        )
        await service.add_comment(
            actor=reporters[n % 5].user, incident_id=incident.id, body="Any news?"
        )

    # When the agent opens the dashboard with pages of 10 and of 50
    viewer = agents[0]
    ten, ten_nodes = await dashboard_statements(gql, viewer, 10)
    fifty, fifty_nodes = await dashboard_statements(gql, viewer, 50)

    # Then both pages are complete
    assert [node["number"] for node in ten_nodes] == list(range(1, 11))
    assert [node["number"] for node in fifty_nodes] == list(range(1, 51))
    for n, node in enumerate(fifty_nodes):
        assert node["reporter"] == {"name": "Max Manager"}
        assert node["assignedTo"] == {"name": f"Agent {n % 10:02}"}
        assert node["supportedBy"] == sorted(
            [{"name": f"Agent {(n + 1) % 10:02}"}, {"name": f"Agent {(n + 2) % 10:02}"}],
            key=lambda u: u["name"],
        )
        assert sorted(u["name"] for u in node["watchers"]) == sorted(
            [f"Reporter {n % 5}", f"Agent {(n + 3) % 10:02}"]
        )
        assert node["comments"] == {"totalCount": 2}
        assert node["references"] == [{"label": f"Ticket {n + 1}"}]
    # Agent 00 is the assignee of every tenth incident (NEW: may start it or put it on hold)
    assert fifty_nodes[0]["allowedTransitions"] == ["IN_PROGRESS", "ON_HOLD"]
    assert fifty_nodes[1]["allowedTransitions"] == []

    # And the same statements ran for both: one per list field, not one per incident
    assert len(ten) == len(fifty), "\n".join(fifty)
    # Measured: 3 on SQLite and PostgreSQL: the page (its reporters, assignees, supporters and
    # comment counts read in its own statement; totalCount loads no comment), watchers and
    # references.
    assert len(fifty) == 3, "\n".join(fifty)


async def test_a_page_asked_again_reads_the_rows_of_now(
    gql: GraphQLClient, make_person: MakePerson, backend: str
) -> None:
    # Given two incidents, one with a comment
    manager = await make_person(Role.MANAGER, name="Max Manager")
    first = await service.report_incident(actor=manager.user, description="First")
    await service.report_incident(actor=manager.user, description="Second")
    await service.add_comment(actor=manager.user, incident_id=first.id, body="One")
    # (Statements built by earlier tests of this process are forgotten.)
    queries._page_statement.cache_clear()

    # When the same page is asked, the first incident is commented on again, and the page
    # is asked once more
    before, _ = await dashboard_statements(gql, manager, 10)
    await service.add_comment(actor=manager.user, incident_id=first.id, body="Two")
    with statements() as sql:
        data = await gql.execute(DASHBOARD, {"first": 10}, as_=manager)

    # Then the second answer holds the new comment, read by the same one statement
    counts = [node["comments"]["totalCount"] for node in data["incidents"]["nodes"]]
    assert counts == [2, 0]
    assert [s for s in sql if AUTH_TABLE not in s] == before
    # And on PostgreSQL that statement was built once (Tortoise builds it anew otherwise)
    cached = queries._page_statement.cache_info()
    assert (cached.misses, cached.hits) == ((1, 1) if backend == "postgres" else (0, 0))
