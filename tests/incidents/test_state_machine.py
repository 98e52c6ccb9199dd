"""A model of the desk: random changes by random people, checked against plain Python.

Hypothesis drives reports, assignments, status moves, comments, watch/unwatch and Save/Sends by
users of every role, mostly through the service and a slice (Save/Send, comments) through
GraphQL over HTTP, on SQLite and PostgreSQL. The model below is written from the README's tables
(the workflow, who may change what, who gets which email), not from the code: it predicts each
outcome (accepted, a no-op, or the refusal's code) and, after every step, the whole database is
compared with it:

- every incident's fields, Supported By and watchers are the model's; a refusal changed nothing;
- ``version`` is 1 plus the accepted changes; one change-log row per accepted change;
- its history replays: each entry starts from the value the previous ones left, and the last
  ones reach the current state;
- Request IDs are 1..n without a gap, refused reports included;
- the outbox holds exactly the emails the recipients table names, change by change.

``GQL_SUPPORT_TEST_MODEL_EXAMPLES`` (default 5) and ``GQL_SUPPORT_TEST_MODEL_STEPS`` (default
25) size the run; ``make fuzz`` runs it longer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tortoise.backends.base.executor import EXECUTOR_CACHE

from gql_support import db
from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.api.app import create_app
from gql_support.api.ids import to_global_id
from gql_support.errors import DomainError
from gql_support.incidents import service
from gql_support.incidents.changes import UNSET, IncidentChanges
from gql_support.incidents.models import (
    Comment,
    Impact,
    Incident,
    IncidentCounter,
    IncidentEvent,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Urgency,
)
from gql_support.live import bus
from gql_support.live.models import IncidentChange
from gql_support.notify.models import OutboxMessage
from gql_support.settings import Settings
from tests.conftest import _pg_admin, _pg_url
from tests.documents import ADD_COMMENT, SAVE
from tests.fuzz_tally import count

EXAMPLES = int(os.environ.get("GQL_SUPPORT_TEST_MODEL_EXAMPLES", "5"))
STEPS = int(os.environ.get("GQL_SUPPORT_TEST_MODEL_STEPS", "25"))

#: The people of the desk: every role, two of most, so "another agent" exists.
ROLES = (Role.ADMIN, Role.MANAGER, Role.MANAGER, Role.AGENT, Role.AGENT, Role.USER, Role.USER)
PEOPLE = range(len(ROLES))
MANAGERS = {n for n in PEOPLE if ROLES[n] in (Role.MANAGER, Role.ADMIN)}
SUPPORT = {n for n in PEOPLE if ROLES[n] is not Role.USER}

# The workflow table of the README, cell by cell: (from, to) -> who may make the move.
M, A, S, R = "manager", "assignee", "supporter", "reporter"
WORKFLOW: dict[tuple[str, str], set[str]] = {
    ("NEW", "IN_PROGRESS"): {M, A},
    ("NEW", "CLOSED"): {M},
    ("NEW", "REJECTED"): {M},
    ("NEW", "ON_HOLD"): {M, A},
    ("IN_PROGRESS", "RETESTING"): {M, A, S},
    ("IN_PROGRESS", "RESOLVED"): {M, A},
    ("IN_PROGRESS", "CLOSED"): {M},
    ("IN_PROGRESS", "REJECTED"): {M},
    ("IN_PROGRESS", "ON_HOLD"): {M, A},
    ("RETESTING", "IN_PROGRESS"): {M, A, S, R},
    ("RETESTING", "RESOLVED"): {M, A, R},
    ("RETESTING", "ON_HOLD"): {M, A},
    ("RESOLVED", "IN_PROGRESS"): {M, R},
    ("CLOSED", "IN_PROGRESS"): {M},
    ("REJECTED", "IN_PROGRESS"): {M},
    ("ON_HOLD", "IN_PROGRESS"): {M, A},
    ("ON_HOLD", "CLOSED"): {M},
    ("ON_HOLD", "REJECTED"): {M},
}
PRIORITY = {
    ("HIGH", "HIGH"): "URGENT",
    ("HIGH", "MEDIUM"): "HIGH",
    ("HIGH", "LOW"): "NORMAL",
    ("MEDIUM", "HIGH"): "HIGH",
    ("MEDIUM", "MEDIUM"): "NORMAL",
    ("MEDIUM", "LOW"): "LOW",
    ("LOW", "HIGH"): "NORMAL",
    ("LOW", "MEDIUM"): "LOW",
    ("LOW", "LOW"): "LOW",
}

people = st.sampled_from(PEOPLE)
#: Who may be named to support: mostly the support staff, sometimes anyone (to be refused).
managers = st.sampled_from(sorted(MANAGERS))
helpers = st.sets(st.sampled_from(sorted(SUPPORT)), max_size=2) | st.sets(people, max_size=2)
statuses = st.sampled_from([s.value for s in IncidentStatus])
impacts = st.sampled_from([i.value for i in Impact])
urgencies = st.sampled_from([u.value for u in Urgency])
types = st.sampled_from([t.value for t in IncidentType])
tasks = st.sampled_from([None, "Check the logs", "Call the customer"])
comments = st.sampled_from(["Looking into it", "Same here", "Fixed on staging"])


@dataclass
class Desk:
    """One incident as the model sees it: users are indexes into ``PEOPLE``."""

    id: int
    number: int
    reporter: int
    status: str = "NEW"
    assignee: int | None = None
    supporters: set[int] = field(default_factory=set)
    watchers: set[int] = field(default_factory=set)
    type: str = "DEFECT"
    impact: str = "MEDIUM"
    urgency: str = "MEDIUM"
    task: str | None = None
    version: int = 1
    changes: int = 1
    comments: int = 0
    #: The values the report set without a history entry of their own.
    reported: dict[str, Any] = field(default_factory=dict)

    @property
    def priority(self) -> str:
        return PRIORITY[self.impact, self.urgency]

    def parties(self, actor: int) -> set[str]:
        parties = set()
        if actor in MANAGERS:
            parties.add(M)
        if self.assignee == actor:
            parties.add(A)
        if actor in self.supporters:
            parties.add(S)
        if self.reporter == actor:
            parties.add(R)
        return parties


@dataclass(frozen=True)
class Outcome:
    """What the model expects of a request: a refusal's code, or the new state (None: no-op)."""

    code: str | None = None
    after: Desk | None = None
    emails: tuple[tuple[int, str], ...] = ()


def edit_outcome(
    desk: Desk, actor: int, ask: dict[str, Any], *, comment: bool, expected: int | None
) -> Outcome:
    """The model of a Save/Send (and of every narrower change, which is one)."""
    if expected is not None and expected != desk.version:
        return Outcome(code="VERSION_CONFLICT")
    new = Desk(**{**desk.__dict__, **ask})
    new.supporters, new.watchers = set(new.supporters), set(new.watchers)
    parties = desk.parties(actor)
    changed = [name for name in ask if getattr(desk, name) != getattr(new, name)]
    # Refusals in the order of the README's field table; then the people named.
    for name in ("assignee", "supporters", "watchers", "status", "type", "task", "impact"):
        if name not in changed and not (name == "impact" and "urgency" in changed):
            continue
        if name in ("assignee", "supporters", "impact") and M not in parties:
            return Outcome(code="FORBIDDEN")
        if name == "watchers" and M not in parties and (desk.watchers ^ new.watchers) - {actor}:
            return Outcome(code="FORBIDDEN")
        if name == "status" and not WORKFLOW.get((desk.status, new.status), set()) & parties:
            return Outcome(code="INVALID_TRANSITION")
        if name in ("type", "task") and not parties:
            return Outcome(code="FORBIDDEN")
    if new.assignee not in (desk.assignee, None) and new.assignee not in SUPPORT:
        return Outcome(code="INVALID_INPUT")
    if new.supporters - desk.supporters - SUPPORT:
        return Outcome(code="INVALID_INPUT")
    if not changed and not comment:
        return Outcome()
    new.version += 1
    new.changes += 1
    new.comments += comment
    tells = comment or bool(set(changed) - {"watchers"})
    return Outcome(after=new, emails=change_emails(desk, new, actor) if tells else ())


def change_emails(before: Desk, after: Desk, actor: int) -> tuple[tuple[int, str], ...]:
    """The recipients table's "change" rows, first match wins, never the actor."""
    assignee = set() if after.assignee is None else {after.assignee}
    old = (set() if before.assignee is None else {before.assignee}) | before.supporters
    rows = [
        (assignee if after.assignee != before.assignee else set(), "ASSIGNED"),
        (after.supporters - before.supporters, "ASSIGNED"),
        ({after.reporter}, "UPDATED"),
        (assignee, "UPDATED"),
        (after.supporters, "UPDATED"),
        (after.watchers, "UPDATED"),
        (old - after.supporters - assignee, "UPDATED"),
    ]
    return _first_match(rows, actor, receipt=False)


def report_emails(desk: Desk) -> tuple[tuple[int, str], ...]:
    """The recipients table's "report" rows; only role MANAGER counts as incident manager."""
    rows = [
        ({desk.reporter}, "RECEIPT"),
        (set() if desk.assignee is None else {desk.assignee}, "REPORTED"),
        (desk.supporters, "REPORTED"),
        (desk.watchers, "REPORTED"),
        ({n for n in PEOPLE if ROLES[n] is Role.MANAGER}, "REPORTED"),
    ]
    return _first_match(rows, desk.reporter, receipt=True)


def _first_match(
    rows: list[tuple[set[int], str]], actor: int, *, receipt: bool
) -> tuple[tuple[int, str], ...]:
    chosen: dict[int, str] = {}
    for who, reason in rows:
        for person in who:
            if person not in chosen and (person != actor or (receipt and reason == "RECEIPT")):
                chosen[person] = reason
    return tuple(chosen.items())


class DeskMachine(RuleBasedStateMachine):
    """Runs each example on a fresh database of ``backend`` cloned from ``template``."""

    backend: ClassVar[str]
    template: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        count(f"model: examples run ({self.backend})")
        self.runner = asyncio.Runner()
        self.folder = Path(tempfile.mkdtemp(prefix="gqls-model-", dir=Path.cwd()))
        self.database: str | None = None
        self.desks: dict[int, Desk] = {}
        self.numbers = 0
        self.emails: Counter[tuple[int, int, str]] = Counter()
        self.user_ids: list[int] = []
        self.names: dict[int, str] = {}
        self.tokens: list[str] = []
        self.runner.run(self._open())

    async def _open(self) -> None:
        settings = Settings(
            attachments_dir=str(self.folder / "attachments"),
            mail_dir=str(self.folder / "mail"),
            writes_per_minute=100_000,
            write_burst=100_000,
        )
        if self.backend == "sqlite":
            path = self.folder / "model.sqlite3"
            shutil.copy(self.template, path)
            settings = settings.model_copy(update={"database_url": f"sqlite://{path}"})
        else:
            self.database = f"gqls_model_{uuid.uuid4().hex[:12]}"
            await _pg_admin(f'CREATE DATABASE "{self.database}" TEMPLATE "{self.template}"')
            settings = settings.model_copy(update={"database_url": _pg_url(self.database)})
        # As in conftest: Tortoise caches INSERTs by connection name, whatever the dialect.
        EXECUTOR_CACHE.clear()
        bus.use(bus.InProcessBus())
        await db.open_database(settings)
        for n, role in enumerate(ROLES):
            user = await accounts.create_user(
                email=f"person{n}@example.com", name=f"Person {n}", role=role
            )
            self.user_ids.append(user.id)
            self.names[user.id] = user.name
            self.tokens.append(await accounts.issue_token(user=user))
        app = create_app(settings, manage_database=False)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def teardown(self) -> None:
        async def close() -> None:
            await self.http.aclose()
            await db.close_database()
            if self.database is not None:
                await _pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

        try:
            self.runner.run(close())
        finally:
            self.runner.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _pick(self, data: st.DataObject) -> tuple[Desk, int]:
        """An incident, and someone to act on it: often one of the people it names."""
        desk = data.draw(st.sampled_from(sorted(self.desks.values(), key=lambda d: d.id)))
        named = {desk.reporter, *desk.supporters, *desk.watchers} | (
            set() if desk.assignee is None else {desk.assignee}
        )
        return desk, data.draw(st.sampled_from(sorted(named)) | people | managers)

    # --- the requests -------------------------------------------------------------------

    async def _user(self, n: int) -> User:
        return await User.get(id=self.user_ids[n])

    def _call(self, request: Any) -> tuple[str | None, Any]:
        """Runs a service call: the refusal's code, or its result."""

        async def run() -> tuple[str | None, Any]:
            try:
                return None, await request()
            except DomainError as error:
                return str(error.code), None

        code, result = self.runner.run(run())
        # The rule is the method that made the request (``DeskMachine.<rule>.<locals>...``).
        rule = request.__qualname__.split(".<locals>")[0].rsplit(".", 1)[-1]
        count(f"model: rule {rule}, {'accepted' if code is None else 'refused'}")
        return code, result

    def _accept(self, desk: Desk, outcome: Outcome, code: str | None) -> None:
        assert code == outcome.code, (code, outcome)
        if outcome.after is not None:
            self.desks[desk.id] = outcome.after
            for person, reason in outcome.emails:
                self.emails[desk.id, person, reason] += 1

    @initialize(reporter=people)
    def first_report(self, reporter: int) -> None:
        self.report(reporter, "MEDIUM", "MEDIUM", None, set())

    @rule(
        reporter=people,
        impact=impacts,
        urgency=urgencies,
        assignee=st.none() | people,
        watchers=st.sets(people, max_size=2),
    )
    def report(
        self, reporter: int, impact: str, urgency: str, assignee: int | None, watchers: set[int]
    ) -> None:
        ids = self.user_ids
        changes = IncidentChanges(
            impact=Impact(impact),
            urgency=Urgency(urgency),
            watcher_ids=[ids[n] for n in sorted(watchers)],
            assigned_to_id=UNSET if assignee is None else ids[assignee],
        )

        async def request() -> Incident:
            actor = await self._user(reporter)
            return await service.report_incident(actor=actor, description="x", changes=changes)

        code, incident = self._call(request)
        expected = None
        if assignee is not None and reporter not in MANAGERS:
            expected = "FORBIDDEN"
        elif assignee is not None and assignee not in SUPPORT:
            expected = "INVALID_INPUT"
        assert code == expected, (code, expected)
        if incident is None:
            return
        self.numbers += 1
        desk = Desk(
            id=incident.id,
            number=self.numbers,
            reporter=reporter,
            assignee=assignee,
            watchers=set(watchers),
            impact=impact,
            urgency=urgency,
            reported={"impact": impact, "urgency": urgency, "priority": PRIORITY[impact, urgency]},
        )
        self.desks[desk.id] = desk
        for person, reason in report_emails(desk):
            self.emails[desk.id, person, reason] += 1

    @precondition(lambda self: self.desks)
    @rule(
        data=st.data(),
        assignee=st.none() | people,
        supporters=helpers,
    )
    def assign(self, data: st.DataObject, assignee: int | None, supporters: set[int]) -> None:
        desk, actor = self._pick(data)
        ask = {"assignee": assignee, "supporters": supporters}
        outcome = edit_outcome(desk, actor, ask, comment=False, expected=None)
        ids = self.user_ids

        async def request() -> Incident:
            return await service.assign_incident(
                actor=await self._user(actor),
                incident_id=desk.id,
                assigned_to_id=None if assignee is None else ids[assignee],
                supported_by_ids=[ids[n] for n in sorted(supporters)],
            )

        self._accept(desk, outcome, self._call(request)[0])

    @precondition(lambda self: self.desks)
    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        desk, actor = self._pick(data)
        status = data.draw(_statuses(desk, actor))
        if status == desk.status:
            outcome = Outcome(code="INVALID_TRANSITION")
        else:
            outcome = edit_outcome(desk, actor, {"status": status}, comment=False, expected=None)

        async def request() -> Incident:
            return await service.update_status(
                actor=await self._user(actor), incident_id=desk.id, status=IncidentStatus(status)
            )

        self._accept(desk, outcome, self._call(request)[0])

    @precondition(lambda self: self.desks)
    @rule(data=st.data(), watching=st.booleans())
    def watch(self, data: st.DataObject, watching: bool) -> None:
        desk, actor = self._pick(data)
        watchers = desk.watchers | {actor} if watching else desk.watchers - {actor}
        outcome = edit_outcome(desk, actor, {"watchers": watchers}, comment=False, expected=None)

        async def request() -> Incident:
            return await service.watch_incident(
                actor=await self._user(actor), incident_id=desk.id, watching=watching
            )

        self._accept(desk, outcome, self._call(request)[0])

    @precondition(lambda self: self.desks)
    @rule(data=st.data(), body=comments, over_http=st.booleans())
    def comment(self, data: st.DataObject, body: str, over_http: bool) -> None:
        desk, actor = self._pick(data)
        outcome = edit_outcome(desk, actor, {}, comment=True, expected=None)
        if over_http:
            variables = {"input": {"incidentId": to_global_id("Incident", desk.id), "body": body}}
            code = self._post(ADD_COMMENT, variables, actor, "addComment")
        else:

            async def request() -> Any:
                return await service.add_comment(
                    actor=await self._user(actor), incident_id=desk.id, body=body
                )

            code = self._call(request)[0]
        self._accept(desk, outcome, code)

    @precondition(lambda self: self.desks)
    @rule(
        data=st.data(),
        comment=st.none() | comments,
        version=st.sampled_from(["current", "stale", "none"]),
        over_http=st.booleans(),
    )
    def save(
        self,
        data: st.DataObject,
        comment: str | None,
        version: str,
        over_http: bool,
    ) -> None:
        """Save/Send: the form's fields as they stand, any mix of changes at once."""
        desk, actor = self._pick(data)
        ask = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "assignee": st.none() | people,
                    "supporters": helpers,
                    "watchers": st.sets(people, max_size=3),
                    "status": _statuses(desk),
                    "type": types,
                    "task": tasks,
                    "impact": impacts,
                    "urgency": urgencies,
                },
            )
        )
        expected = {"current": desk.version, "stale": desk.version + 1, "none": None}[version]
        outcome = edit_outcome(desk, actor, ask, comment=comment is not None, expected=expected)
        ids = self.user_ids
        if over_http:
            code = self._post(
                SAVE,
                {"input": self._save_input(desk, ask, comment, expected)},
                actor,
                "saveIncident",
            )
        else:
            changes = IncidentChanges(
                comment=comment,
                **{
                    {
                        "assignee": "assigned_to_id",
                        "supporters": "supported_by_ids",
                        "watchers": "watcher_ids",
                    }.get(name, name): _domain(name, value, ids)
                    for name, value in ask.items()
                },
            )

            async def request() -> Any:
                return await service.edit_incident(
                    actor=await self._user(actor),
                    incident_id=desk.id,
                    changes=changes,
                    expected_version=expected,
                )

            code = self._call(request)[0]
        self._accept(desk, outcome, code)

    def _save_input(
        self, desk: Desk, ask: dict[str, Any], comment: str | None, expected: int | None
    ) -> dict[str, Any]:
        user = [to_global_id("User", user_id) for user_id in self.user_ids]
        values: dict[str, Any] = {"incidentId": to_global_id("Incident", desk.id)}
        if expected is not None:
            values["expectedVersion"] = expected
        if comment is not None:
            values["comment"] = comment
        for name, value in ask.items():
            if name == "assignee":
                values["assignedToId"] = None if value is None else user[value]
            elif name in ("supporters", "watchers"):
                values[f"{'supportedBy' if name == 'supporters' else 'watcher'}Ids"] = [
                    user[n] for n in sorted(value)
                ]
            else:
                values[name] = value
        return values

    def _post(self, document: str, variables: dict[str, Any], actor: int, field: str) -> str | None:
        """Sends a mutation over HTTP: the code of its first UserError, or None."""
        headers = {"Authorization": f"Bearer {self.tokens[actor]}"}
        body = {"query": document, "variables": variables}
        response = self.runner.run(self.http.post("/graphql", json=body, headers=headers))
        assert response.status_code == 200, response.text
        answer = response.json()
        assert "errors" not in answer, answer
        errors = answer["data"][field]["errors"]
        return str(errors[0]["code"]) if errors else None

    # --- the checks after every step ----------------------------------------------------

    @invariant()
    def database_matches_the_model(self) -> None:
        self.runner.run(self._check())
        count(f"model: steps checked against the database ({self.backend})")

    async def _check(self) -> None:
        person = {user_id: n for n, user_id in enumerate(self.user_ids)}
        incidents = {i.id: i for i in await Incident.all()}
        assert set(incidents) == set(self.desks)
        numbers = sorted(i.number for i in incidents.values())
        assert numbers == list(range(1, self.numbers + 1))
        assert (await IncidentCounter.get(id=1)).value == self.numbers
        supporters = await _links(IncidentSupporter, person)
        watchers = await _links(IncidentWatcher, person)
        changes: Counter[int] = Counter(
            await IncidentChange.all().values_list("incident_id", flat=True)  # type: ignore[arg-type]
        )
        commented: Counter[int] = Counter(
            await Comment.all().values_list("incident_id", flat=True)  # type: ignore[arg-type]
        )
        events = await IncidentEvent.all().order_by("id")
        for desk in self.desks.values():
            row = incidents[desk.id]
            stored = {
                "status": row.status.value,
                "assignee": None if row.assigned_to_id is None else person[row.assigned_to_id],
                "type": row.type.value,
                "impact": row.impact.value,
                "urgency": row.urgency.value,
                "priority": row.priority.value,
                "task": row.task,
                "version": row.version,
                "supporters": supporters.get(desk.id, set()),
                "watchers": watchers.get(desk.id, set()),
                "changes": changes[desk.id],
                "comments": commented[desk.id],
            }
            modelled = {name: getattr(desk, name) for name in stored}
            assert stored == modelled, (desk.number, stored, modelled)
            assert desk.version == desk.changes
            self._replay(desk, [e for e in events if e.incident_id == desk.id])
        emails = Counter(
            (incident_id, person[recipient_id], reason)
            for incident_id, recipient_id, reason in await OutboxMessage.all().values_list(
                "incident_id", "recipient_id", "reason"
            )
        )
        assert emails == self.emails

    def _replay(self, desk: Desk, events: list[IncidentEvent]) -> None:
        """Folds the history from the report: each entry starts where the last one left."""
        state: dict[str, str | None] = {
            "status": "NEW",
            "assignedTo": None,
            "supportedBy": "",
            "watchers": "",
            "type": "DEFECT",
            "task": None,
            **desk.reported,
        }
        assert events[0].kind.value == "REPORTED"
        for event in events:
            if event.field in state:
                assert state[event.field] == event.from_value, (desk.number, event.field)
                state[event.field] = event.to_value
        assert state == {
            "status": desk.status,
            "assignedTo": None if desk.assignee is None else f"Person {desk.assignee}",
            "supportedBy": _names(desk.supporters),
            "watchers": _names(desk.watchers),
            "type": desk.type,
            "task": desk.task,
            "impact": desk.impact,
            "urgency": desk.urgency,
            "priority": desk.priority,
        }, desk.number


def _statuses(desk: Desk, actor: int | None = None) -> st.SearchStrategy[str]:
    """A status to ask for: often a move the workflow has from the current one (for the actor,
    when given, so that deep states are reached and every cell is tried)."""
    moves = sorted(
        to
        for (source, to), who in WORKFLOW.items()
        if source == desk.status and (actor is None or who & desk.parties(actor))
    )
    return st.sampled_from(moves) | statuses if moves else statuses


def _names(people: set[int]) -> str:
    """A list of people as history entries show it."""
    return ", ".join(sorted(f"Person {n}" for n in people))


def _domain(name: str, value: Any, ids: list[int]) -> Any:
    """A model value as the service takes it."""
    if name == "assignee":
        return None if value is None else ids[value]
    if name in ("supporters", "watchers"):
        return [ids[n] for n in sorted(value)]
    enum = {"status": IncidentStatus, "type": IncidentType, "impact": Impact, "urgency": Urgency}
    return value if name not in enum else enum[name](value)


async def _links(
    model: type[IncidentSupporter] | type[IncidentWatcher], person: dict[int, int]
) -> dict[int, set[int]]:
    linked: dict[int, set[int]] = {}
    for incident_id, user_id in await model.all().values_list("incident_id", "user_id"):
        linked.setdefault(incident_id, set()).add(person[user_id])
    return linked


def test_the_desk_behaves_as_its_model(backend: str, template: Any) -> None:
    machine = type("Desk", (DeskMachine,), {"backend": backend, "template": template})
    count(f"model: examples asked ({backend}, up to {STEPS} steps each)", EXAMPLES)
    run_state_machine_as_test(
        machine,
        settings=hypothesis_settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
