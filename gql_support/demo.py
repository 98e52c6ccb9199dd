"""Demo data: a few users and incidents for an empty database, so a newcomer can try the API at
once (``seed_if_empty``), and many at scale for trying the desk under load and for the
benchmarks (``fill``, the ``gql-support demo`` command)."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from tortoise import connections

from gql_support import demo_postgres
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.errors import InvalidInput
from gql_support.incidents import service as incidents
from gql_support.incidents.changes import IncidentChanges, NewReference
from gql_support.incidents.models import (
    PRIORITY_RANK,
    STATUS_RANK,
    Impact,
    IncidentEventKind,
    IncidentStatus,
    IncidentType,
    Urgency,
)
from gql_support.incidents.service import MAX_INDEXED_COMMENT, MAX_SEARCH_DOCUMENT
from gql_support.incidents.workflow import TRANSITIONS, priority_of

DEMO_PASSWORD = "demo-password"
DEMO_USERS = [
    ("manager@example.com", "Maya Manager", Role.MANAGER, "en", "Europe/London"),
    ("agent@example.com", "Arthur Agent", Role.AGENT, "fr", "Europe/Paris"),
    ("helper@example.com", "Hana Helper", Role.AGENT, "en", "America/New_York"),
    ("user@example.com", "Ugo User", Role.USER, "fr", "Europe/Paris"),
]


async def seed_if_empty() -> dict[str, str] | None:
    """Creates demo users and incidents when there are no users; returns email → token."""
    if await User.exists():
        return None
    users: dict[str, User] = {}
    tokens: dict[str, str] = {}
    for email, name, role, locale, time_zone in DEMO_USERS:
        user = await accounts.create_user(
            email=email,
            name=name,
            role=role,
            locale=locale,
            time_zone=time_zone,
            password=DEMO_PASSWORD,
        )
        users[email] = user
        tokens[email] = await accounts.issue_token(user=user)
    manager, agent, helper, reporter = (users[email] for email, *_ in DEMO_USERS)
    first = await incidents.report_incident(
        actor=reporter,
        description="The monthly forecast export to Excel fails with a timeout.",
        type=IncidentType.DEFECT,
        impact=Impact.HIGH,
        urgency=Urgency.HIGH,
        changes=IncidentChanges(
            task="Forecast > Export",
            watcher_ids=[reporter.id],
            comment="It started after Monday's release.",
            references=[NewReference(label="Forecast process, step 4")],
        ),
    )
    await incidents.edit_incident(
        actor=manager,
        incident_id=first.id,
        changes=IncidentChanges(
            assigned_to_id=agent.id,
            supported_by_ids=[helper.id],
            status=IncidentStatus.IN_PROGRESS,
            due_date=datetime.now(UTC) + timedelta(days=2),
            comment="Arthur takes it, Hana helps with the export service.",
        ),
    )
    await incidents.report_incident(
        actor=reporter,
        description="Please add a 'region' column to the budget dashboard.",
        type=IncidentType.CHANGE_REQUEST,
        impact=Impact.LOW,
        urgency=Urgency.MEDIUM,
    )
    await incidents.report_incident(
        actor=agent,
        description="Which cost centre should intercompany charges be booked to?",
        type=IncidentType.CLARIFICATION,
    )
    return tokens


# --- Demo data at scale: ``gql-support demo --incidents N`` ----------------------------------
#
# Rows are generated in Python from a seeded random generator and written in bulk (COPY on
# PostgreSQL, executemany on SQLite), in one transaction; every invariant the service keeps
# holds for them: gapless numbers and the counter, the search document (description,
# references, then comments), the history (REPORTED, then one batch per edit, status moves
# following the workflow), versions (one per edit) and the ranks. No outbox rows and no change
# log: demo changes happened "before" anybody listened.

#: Words of ~1 % of the incidents each (one per description): searches with a known spread.
_TOPIC_WORDS = (
    "abacus albatross alder almond amber anchor anemone apricot aspen aurora "
    "badger bamboo banyan basalt beacon beryl birch bison bramble bronze "
    "cactus canyon caribou cedar cobalt comet condor coral cypress dahlia "
    "delta dingo dolphin dune eagle ebony elm ember falcon fennel "
    "fern fjord flint gazelle geyser ginger glacier granite hazel heron "
    "hickory iris ivory jackal jade jasmine juniper kelp kestrel lagoon "
    "larch lark lava lemur lichen lotus lynx magnet mango maple "
    "marble meadow mesa mink mistral moss nectar nickel nova oasis "
    "ocelot olive onyx opal orchid osprey otter panda pebble pelican "
    "pine plover poplar quartz quill raven reef robin saffron sequoia"
)
TOPICS = tuple(_TOPIC_WORDS.split())
_SUBJECTS = (
    "The monthly forecast export",
    "Invoice matching",
    "The budget dashboard",
    "Payroll import",
    "The supplier portal",
    "Intercompany booking",
    "The cost centre report",
    "Expense approval",
    "The consolidation run",
    "Bank reconciliation",
)
_PROBLEMS = (
    "fails with a timeout",
    "shows the wrong currency",
    "is very slow since the last release",
    "rejects valid entries",
    "loses the region column",
    "sends duplicate emails",
    "needs a new filter",
    "prints an empty page",
    "does not round totals",
    "locks the ledger for everyone",
)
_SENTENCES = (
    "It started after Monday's release.",
    "I tried again this morning with the same result.",
    "The log shows a constraint violation on the ledger table.",
    "Could you check the mapping for the new entity?",
    "The workaround is to run it twice, which nobody likes.",
    "This blocks the month-end closing for our team.",
    "Attached the screenshot from the test environment.",
    "Confirmed on two browsers, so it is not a cache issue.",
    "Finance needs this before the audit next week.",
    "Let us discuss it in tomorrow's stand-up.",
    "Fixed in the staging build, please retest.",
    "Still failing for the French subsidiary.",
)
#: Final statuses, by weight; each is reached by the workflow's shortest path from NEW.
_STATUS_WEIGHTS = {
    IncidentStatus.NEW: 20,
    IncidentStatus.IN_PROGRESS: 25,
    IncidentStatus.ON_HOLD: 5,
    IncidentStatus.RETESTING: 5,
    IncidentStatus.RESOLVED: 20,
    IncidentStatus.CLOSED: 20,
    IncidentStatus.REJECTED: 5,
}
_BATCH = 5_000


def _status_paths() -> dict[IncidentStatus, list[IncidentStatus]]:
    """The moves from NEW to each status, fewest first, as the workflow allows them."""
    paths = {IncidentStatus.NEW: [IncidentStatus.NEW]}
    frontier = [IncidentStatus.NEW]
    while frontier:
        following = []
        for status in frontier:
            for target in TRANSITIONS[status]:
                if target not in paths:
                    paths[target] = [*paths[status], target]
                    following.append(target)
        frontier = following
    return paths


@dataclass(frozen=True)
class DemoPeople:
    """The people demo incidents are spread over: ids and names, by role."""

    names: dict[int, str]
    reporters: list[int]
    agents: list[int]
    managers: list[int]


@dataclass
class _Rows:
    """The rows of one batch of incidents, per table, in column order."""

    incident: list[tuple[Any, ...]] = field(default_factory=list)
    supporter: list[tuple[Any, ...]] = field(default_factory=list)
    watcher: list[tuple[Any, ...]] = field(default_factory=list)
    comment: list[tuple[Any, ...]] = field(default_factory=list)
    reference: list[tuple[Any, ...]] = field(default_factory=list)
    event: list[tuple[Any, ...]] = field(default_factory=list)


_COLUMNS = {
    "incident": (
        "id", "number", "description", "type", "impact", "urgency", "priority", "priority_rank",
        "status", "status_rank", "due_date", "task", "reporter_id", "assigned_to_id", "version",
        "search_document", "created_at", "updated_at", "due_soon_sent_for", "overdue_sent_for",
    ),
    "incident_supporter": ("id", "incident_id", "user_id"),
    "incident_watcher": ("id", "incident_id", "user_id"),
    "comment": ("id", "incident_id", "author_id", "body", "created_at"),
    "reference": ("id", "incident_id", "label", "url", "added_by_id", "added_at"),
    "incident_event": (
        "id", "incident_id", "kind", "actor_id", "at", "field", "from_value", "to_value",
    ),
}  # fmt: skip
_TABLE_ROWS = {
    "incident": "incident",
    "incident_supporter": "supporter",
    "incident_watcher": "watcher",
    "comment": "comment",
    "reference": "reference",
    "incident_event": "event",
}


class _Generator:
    """Writes the rows of demo incidents, numbered after what the database holds."""

    def __init__(
        self, *, people: DemoPeople, incidents: int, comments: int, next_ids: dict[str, int]
    ) -> None:
        self.random = random.Random(incidents * 7919 + comments)
        self.people = people
        self.incidents = incidents
        self.next = dict(next_ids)
        self.paths = _status_paths()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = self.now - timedelta(days=365)
        # Comments spread unevenly: most incidents get a few, some many, some none.
        self.comment_counts = [0] * incidents
        for _ in range(comments):
            self.comment_counts[int(incidents * self.random.random() ** 1.5)] += 1

    def _id(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value

    def _text(self, sentences: int) -> str:
        return " ".join(self.random.choice(_SENTENCES) for _ in range(sentences))

    def batch(self, first: int, count: int, number: int) -> _Rows:
        """The rows of incidents ``first`` to ``first + count`` (0-based), from ``number``."""
        rows = _Rows()
        for index in range(first, first + count):
            self._incident(rows, index, number + index - first)
        return rows

    def _incident(self, rows: _Rows, index: int, number: int) -> None:
        rnd, people = self.random, self.people
        incident_id = self._id("incident")
        # Whole seconds, as people read them; spread evenly over the last year.
        span = (self.now - self.start).total_seconds() / self.incidents
        created = self.start + timedelta(seconds=int(span * index))
        reporter = rnd.choice(people.reporters)
        description = (
            f"{rnd.choice(_SUBJECTS)} {rnd.choice(_PROBLEMS)} ({TOPICS[index % len(TOPICS)]}). "
            + self._text(rnd.randint(0, 3))
        ).strip()
        type_ = rnd.choices(list(IncidentType), weights=(6, 3, 1))[0]
        impact = rnd.choices(list(Impact), weights=(1, 3, 2))[0]
        urgency = rnd.choices(list(Urgency), weights=(1, 3, 2))[0]
        status = rnd.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
        task = rnd.choice(("Forecast > Export", "Ledger > Close", None, None))
        at = created
        events: list[tuple[str, int | None, datetime, str | None, str | None, str | None]] = []
        events.append((IncidentEventKind.REPORTED, reporter, at, None, None, None))
        watchers = [reporter] if rnd.random() < 0.7 else []
        if rnd.random() < 0.3:
            other = rnd.choice(people.reporters)
            if other not in watchers:
                watchers.append(other)
        if watchers:
            events.append(
                (IncidentEventKind.WATCHERS_CHANGED, reporter, at, "watchers", "",
                 self._names(watchers))
            )  # fmt: skip
        search = [description]
        references = []
        if rnd.random() < 0.2:
            label = f"{rnd.choice(_SUBJECTS)}, step {rnd.randint(1, 9)}"
            references.append(label)
            search.append(label)
            rows.reference.append(
                (self._id("reference"), incident_id, label,
                 f"https://wiki.example.com/steps/{number}", reporter, at)
            )  # fmt: skip
            events.append(
                (IncidentEventKind.REFERENCE_ADDED, reporter, at, "references", None, label)
            )
        version = 1
        assignee = None
        supporters: list[int] = []
        due = None
        path = self.paths[status][1:]
        if path or rnd.random() < 0.5:
            # A manager triages: assigns, picks helpers, sets a due date and the first move.
            version += 1
            manager = rnd.choice(people.managers)
            at = created + timedelta(minutes=rnd.randint(5, 600))
            assignee = rnd.choice(people.agents)
            events.append(
                (IncidentEventKind.ASSIGNED, manager, at, "assignedTo", None,
                 people.names[assignee])
            )  # fmt: skip
            wanted = rnd.choice((0, 1, 1, 2, 3))
            supporters = [a for a in rnd.sample(people.agents, wanted) if a != assignee]
            if supporters:
                events.append(
                    (IncidentEventKind.SUPPORTERS_CHANGED, manager, at, "supportedBy", "",
                     self._names(supporters))
                )  # fmt: skip
            if path:
                events.append(
                    (IncidentEventKind.STATUS_CHANGED, manager, at, "status",
                     IncidentStatus.NEW, path[0])
                )  # fmt: skip
            if rnd.random() < 0.6:
                due = created + timedelta(days=rnd.randint(1, 45))
                events.append(
                    (IncidentEventKind.DUE_DATE_CHANGED, manager, at, "dueDate", None,
                     due.isoformat())
                )  # fmt: skip
            # Further moves are changes of their own.
            for previous, target in pairwise(path):
                version += 1
                at += timedelta(hours=rnd.randint(1, 72))
                events.append(
                    (IncidentEventKind.STATUS_CHANGED, manager, at, "status", previous, target)
                )
        authors = [reporter, *([assignee] if assignee else []), *supporters]
        for _ in range(self.comment_counts[index]):
            version += 1
            at += timedelta(minutes=rnd.randint(1, 3000))
            # Mostly a sentence or three; now and then a long write-up.
            body = self._text(rnd.randint(1, 3) if rnd.random() < 0.95 else rnd.randint(20, 60))
            author = rnd.choice(authors)
            rows.comment.append((self._id("comment"), incident_id, author, body, at))
            events.append((IncidentEventKind.COMMENTED, author, at, None, None, body[:200]))
            search.append(body[:MAX_INDEXED_COMMENT])
        rows.supporter += [(self._id("incident_supporter"), incident_id, u) for u in supporters]
        rows.watcher += [(self._id("incident_watcher"), incident_id, u) for u in watchers]
        rows.event += [(self._id("incident_event"), incident_id, *event) for event in events]
        document = "\n".join(search)[:MAX_SEARCH_DOCUMENT]
        priority = priority_of(impact, urgency)
        # A desk would have sent the reminders of the due dates gone by.
        reminded = due if due is not None and due <= self.now else None
        rows.incident.append(
            (incident_id, number, description, type_, impact, urgency, priority,
             PRIORITY_RANK[priority], status, STATUS_RANK[status], due, task, reporter,
             assignee, version, document, created, max(at, created), reminded, reminded)
        )  # fmt: skip

    def _names(self, ids: list[int]) -> str:
        return ", ".join(sorted(self.people.names[i] for i in ids))


async def _demo_people(users: int) -> DemoPeople:
    """Adds ``users`` demo people (one agent in ten, one manager in fifty) to those there are."""
    first = (await User.all().order_by("-id").first() or User(id=0)).id + 1
    await User.bulk_create(
        [
            User(
                name=f"Demo Person {n}",
                email=f"person{n}@demo.example.com",
                role=Role.MANAGER if n % 50 == 0 else Role.AGENT if n % 10 == 0 else Role.USER,
                locale="fr" if n % 3 == 0 else "en",
            )
            for n in range(first, first + users)
        ],
        batch_size=1000,
    )
    everyone = await User.filter(is_active=True).values_list("id", "name", "role")
    names = {int(i): str(name) for i, name, _ in everyone}
    by_role: dict[Role, list[int]] = {}
    for user_id, _, role in everyone:
        by_role.setdefault(Role(role), []).append(int(user_id))
    managers = by_role.get(Role.MANAGER, []) + by_role.get(Role.ADMIN, [])
    agents = by_role.get(Role.AGENT, []) + managers
    if not managers:
        raise InvalidInput("demo data needs at least one manager: give --users 50 or more")
    return DemoPeople(names=names, reporters=list(names), agents=agents, managers=managers)


@dataclass(frozen=True)
class DemoFilled:
    """What ``fill`` wrote, per table."""

    counts: dict[str, int]
    seconds: float


async def fill(*, incidents: int, users: int = 200, comments: int | None = None) -> DemoFilled:
    """Adds ``incidents`` demo incidents (with ``users`` more people and ``comments``
    comments, five per incident by default) in one transaction, numbered after the last."""
    started = time.monotonic()
    comments = incidents * 5 if comments is None else comments
    people = await _demo_people(users)
    client = connections.get("default")
    async with client.acquire_connection() as connection:
        if client.capabilities.dialect == "postgres":
            counts = await _fill_postgres(connection, people, incidents, comments)
        else:
            counts = await _fill_sqlite(connection, people, incidents, comments)
    counts["user"] = users
    return DemoFilled(counts=counts, seconds=time.monotonic() - started)


def _weighted(weights: dict[Any, int]) -> list[str]:
    return [str(value) for value, weight in weights.items() for _ in range(weight)]


async def _fill_postgres(
    connection: Any, people: DemoPeople, incidents: int, comments: int
) -> dict[str, int]:
    """Set-based, in SQL (``demo_postgres``), with the rules' tables taken from the domain."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with connection.transaction():
        # A bulk load takes as long as it needs: the timeout guards requests.
        await connection.execute("SET LOCAL statement_timeout = 0")
        await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Locking the counter first keeps the numbers gapless against concurrent reports.
        value = await connection.fetchval(
            "UPDATE incident_counter SET value = value + $1 WHERE id = 1 RETURNING value",
            incidents,
        )
        first_ids = {
            table: int(await connection.fetchval(f'SELECT coalesce(max(id), 0) + 1 FROM "{table}"'))
            for table in demo_postgres.TABLES
        }
        # Indexes and keys built once at the end cost a fraction of keeping them row by row;
        # worth it when the rows added outnumber those there are.
        rebuild = incidents >= await connection.fetchval("SELECT count(*) FROM incident")
        plan = demo_postgres.Plan(
            incidents=incidents,
            comments=comments,
            number=int(value) - incidents + 1,
            first_ids=first_ids,
            start=now - timedelta(days=365),
            span=timedelta(days=365).total_seconds() / max(incidents, 1),
            now=now,
            reporters=people.reporters,
            agents=people.agents,
            managers=people.managers,
            subjects=_SUBJECTS,
            problems=_PROBLEMS,
            topics=TOPICS,
            sentences=_SENTENCES,
            tasks=("Forecast > Export", "Ledger > Close", None, None),
            types=_weighted(dict(zip(IncidentType, (6, 3, 1), strict=True))),
            impacts=_weighted(dict(zip(Impact, (1, 3, 2), strict=True))),
            urgencies=_weighted(dict(zip(Urgency, (1, 3, 2), strict=True))),
            statuses=_weighted(_STATUS_WEIGHTS),
            priorities=[
                (i, u, priority_of(i, u), PRIORITY_RANK[priority_of(i, u)])
                for i in Impact
                for u in Urgency
            ],
            paths=[
                (status, STATUS_RANK[status], [str(s) for s in path])
                for status, path in _status_paths().items()
            ],
            max_comment=MAX_INDEXED_COMMENT,
            max_document=MAX_SEARCH_DOCUMENT,
        )
        counts = await demo_postgres.fill(connection, plan, rebuild=rebuild)
        # Explicit ids leave the serial sequences behind: move them past the rows.
        for table in demo_postgres.TABLES:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT coalesce(max(id), 1) FROM "{table}"))'
            )
    # VACUUM marks the new pages all-visible, so counts and index-only scans skip the heap
    # (autovacuum would, later); the other tables only need their statistics.
    await connection.execute('VACUUM (ANALYZE) "incident"')
    for table in demo_postgres.TABLES[1:]:
        await connection.execute(f'ANALYZE "{table}"')
    return counts


async def _fill_sqlite(
    connection: Any, people: DemoPeople, incidents: int, comments: int
) -> dict[str, int]:
    """Row by row from ``_Generator``, written with executemany."""
    counts = dict.fromkeys(_COLUMNS, 0)
    writer = _SqliteWriter(connection)
    async with writer.transaction():
        # Locking the counter first keeps the numbers gapless against concurrent reports.
        number = await writer.take_numbers(incidents)
        next_ids = {table: await writer.next_id(table) for table in _COLUMNS}
        generator = _Generator(
            people=people, incidents=incidents, comments=comments, next_ids=next_ids
        )
        for first in range(0, incidents, _BATCH):
            count = min(_BATCH, incidents - first)
            rows = generator.batch(first, count, number + first)
            for table, columns in _COLUMNS.items():
                batch = getattr(rows, _TABLE_ROWS[table])
                counts[table] += len(batch)
                if batch:
                    await writer.insert(table, columns, batch)
        await writer.after_ids()
    return counts


class _SqliteWriter:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.connection.rollback()
            raise
        await self.connection.commit()

    async def take_numbers(self, count: int) -> int:
        await self.connection.execute(
            "UPDATE incident_counter SET value = value + ? WHERE id = 1", (count,)
        )
        async with self.connection.execute(
            "SELECT value FROM incident_counter WHERE id = 1"
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) - count + 1

    async def next_id(self, table: str) -> int:
        async with self.connection.execute(
            f'SELECT coalesce(max(id), 0) + 1 FROM "{table}"'
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0])

    async def insert(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(columns)
        # Instants are UTC already: sqlite3 writes them as Tortoise does (ISO text).
        await self.connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    async def after_ids(self) -> None:
        await self.connection.execute("ANALYZE")
