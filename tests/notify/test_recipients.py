"""Who gets which email, over the API and a real SMTP server, as the README's table says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gql_support.accounts.models import Role, User
from gql_support.notify.models import NoticeReason
from gql_support.notify.recipients import ChangeKind, Involvement, recipients, render_markdown
from tests.conftest import GraphQLClient, MakePerson, Person
from tests.notify.conftest import MakeWorker, SmtpServer

REPORT = """
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incident { id number version } errors { code message } }
}
"""
ASSIGN = """
mutation Assign($input: AssignIncidentInput!) {
  assignIncident(input: $input) { incident { version } errors { code message } }
}
"""
UPDATE_STATUS = """
mutation Status($input: UpdateStatusInput!) {
  updateStatus(input: $input) { incident { version } errors { code message } }
}
"""
ADD_COMMENT = """
mutation Comment($input: AddCommentInput!) {
  addComment(input: $input) { incident { version } errors { code message } }
}
"""
SAVE = """
mutation Save($input: SaveIncidentInput!) {
  saveIncident(input: $input) { incident { version } errors { code message field } }
}
"""
WATCH = """
mutation Watch($input: WatchIncidentInput!) {
  watchIncident(input: $input) { incident { version } errors { code message } }
}
"""


def email(person: Person) -> str:
    return person.user.email


async def run(gql: GraphQLClient, query: str, input: dict[str, Any], as_: Person) -> Any:
    data = await gql.execute(query, {"input": input}, as_=as_)
    payload = next(iter(data.values()))
    assert payload["errors"] == [], payload["errors"]
    return payload["incident"]


async def flush(smtp: SmtpServer, make_worker: MakeWorker) -> None:
    """Sends and forgets what earlier changes queued."""
    await make_worker().drain()
    smtp.inbox.received.clear()


async def delivered(smtp: SmtpServer, make_worker: MakeWorker) -> dict[str, str]:
    """Sends the outbox; returns each recipient's subject, failing on two for one person."""
    smtp.inbox.received.clear()
    await make_worker().drain()
    subjects: dict[str, str] = {}
    for received in smtp.inbox.received:
        assert received.to not in subjects, f"two emails to {received.to}"
        subjects[received.to] = str(received.message["Subject"])
    return subjects


async def test_a_report_tells_the_people_named_the_managers_and_gives_the_reporter_a_receipt(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a reporting manager, another manager, an agent, a helper, a watcher, an admin, and
    # an inactive manager
    reporter = await make_person(Role.MANAGER)
    manager = await make_person(Role.MANAGER)
    agent = await make_person(Role.AGENT)
    helper = await make_person(Role.AGENT)
    watcher = await make_person(Role.USER)
    admin = await make_person(Role.ADMIN)
    retired = await make_person(Role.MANAGER)
    await User.filter(id=retired.user.id).update(is_active=False)

    # When the manager reports an incident already assigned, with a watcher
    incident = await run(
        gql,
        REPORT,
        {
            "description": "Printer on fire",
            "assignedToId": agent.id,
            "supportedByIds": [helper.id],
            "watcherIds": [watcher.id],
        },
        reporter,
    )

    # Then the reporter gets a receipt with the number; the others the report; nobody twice
    subjects = await delivered(smtp, make_worker)
    n = incident["number"]
    assert subjects == {
        email(reporter): f"[#{n}] We received your incident: Printer on fire",
        email(manager): f"[#{n}] New incident: Printer on fire",
        email(agent): f"[#{n}] New incident: Printer on fire",
        email(helper): f"[#{n}] New incident: Printer on fire",
        email(watcher): f"[#{n}] New incident: Printer on fire",
    }
    assert email(admin) not in subjects
    assert email(retired) not in subjects


async def test_assignment_and_reassignment(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given an incident reported by a user, watched by another
    reporter = await make_person(Role.USER)
    watcher = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    first = await make_person(Role.AGENT)
    second = await make_person(Role.AGENT)
    helper = await make_person(Role.AGENT)
    incident = await run(
        gql, REPORT, {"description": "VPN drops", "watcherIds": [watcher.id]}, reporter
    )
    await flush(smtp, make_worker)

    # When the manager assigns it
    await run(gql, ASSIGN, {"incidentId": incident["id"], "assignedToId": first.id}, manager)
    n = incident["number"]
    # Then the assignee is told it is theirs, the others get the update, the manager nothing
    assert await delivered(smtp, make_worker) == {
        email(first): f"[#{n}] You were assigned: VPN drops",
        email(reporter): f"[#{n}] Updated by {manager.user.name}: VPN drops",
        email(watcher): f"[#{n}] Updated by {manager.user.name}: VPN drops",
    }

    # When it is reassigned, with a helper added
    await run(
        gql,
        ASSIGN,
        {"incidentId": incident["id"], "assignedToId": second.id, "supportedByIds": [helper.id]},
        manager,
    )
    # Then the new assignee and the new helper are assigned, the former assignee is told
    subjects = await delivered(smtp, make_worker)
    assert subjects == {
        email(second): f"[#{n}] You were assigned: VPN drops",
        email(helper): f"[#{n}] You were assigned: VPN drops",
        email(first): f"[#{n}] Updated by {manager.user.name}: VPN drops",
        email(reporter): f"[#{n}] Updated by {manager.user.name}: VPN drops",
        email(watcher): f"[#{n}] Updated by {manager.user.name}: VPN drops",
    }
    body = smtp.inbox.to(email(first))[0].part("plain")
    assert f"Assigned To: {first.user.name} → {second.user.name}" in body


async def test_status_comment_and_reference_go_to_everyone_concerned_but_the_actor(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given an assigned, supported, watched incident; a bystander manager
    reporter = await make_person(Role.USER)
    watcher = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    agent = await make_person(Role.AGENT)
    helper = await make_person(Role.AGENT)
    incident = await run(
        gql, REPORT, {"description": "Slow login", "watcherIds": [watcher.id]}, reporter
    )
    await run(
        gql,
        ASSIGN,
        {"incidentId": incident["id"], "assignedToId": agent.id, "supportedByIds": [helper.id]},
        manager,
    )
    await flush(smtp, make_worker)
    n = incident["number"]
    everyone = {email(p) for p in (reporter, watcher, agent, helper)}

    # When the agent starts work
    await run(gql, UPDATE_STATUS, {"incidentId": incident["id"], "status": "IN_PROGRESS"}, agent)
    subjects = await delivered(smtp, make_worker)
    assert set(subjects) == everyone - {email(agent)}
    assert set(subjects.values()) == {f"[#{n}] In progress: Slow login"}

    # When the helper comments with a reference
    await run(
        gql,
        ADD_COMMENT,
        {
            "incidentId": incident["id"],
            "body": "Logs attached",
            "references": [{"label": "Log", "url": "https://logs.example.com/1"}],
        },
        helper,
    )
    subjects = await delivered(smtp, make_worker)
    assert set(subjects) == everyone - {email(helper)}
    assert set(subjects.values()) == {f"[#{n}] New comment by {helper.user.name}: Slow login"}
    body = smtp.inbox.to(email(reporter))[0].part("plain")
    assert "Logs attached" in body
    assert "- Log <https://logs.example.com/1>" in body

    # When the reporter, who is also the actor, comments: the reporter gets nothing
    await run(gql, ADD_COMMENT, {"incidentId": incident["id"], "body": "Thanks"}, reporter)
    assert set(await delivered(smtp, make_worker)) == everyone - {email(reporter)}

    # When a watcher is made inactive, they are no longer emailed
    await User.filter(id=watcher.user.id).update(is_active=False)
    await run(gql, ADD_COMMENT, {"incidentId": incident["id"], "body": "Again"}, agent)
    assert set(await delivered(smtp, make_worker)) == {email(reporter), email(helper)}

    # When someone only starts watching, nobody is emailed
    await run(gql, WATCH, {"incidentId": incident["id"], "watching": True}, manager)
    assert await delivered(smtp, make_worker) == {}


async def test_save_send_with_several_changes_is_one_email_per_recipient_listing_them_all(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given an incident in progress
    reporter = await make_person(Role.USER)
    manager = await make_person(Role.MANAGER)
    agent = await make_person(Role.AGENT)
    incident = await run(gql, REPORT, {"description": "Budget export"}, reporter)
    await run(gql, ASSIGN, {"incidentId": incident["id"], "assignedToId": agent.id}, manager)
    await run(gql, UPDATE_STATUS, {"incidentId": incident["id"], "status": "IN_PROGRESS"}, agent)
    await flush(smtp, make_worker)

    # When the manager presses Save/Send with a status, priority, due date, task and comment
    await run(
        gql,
        SAVE,
        {
            "incidentId": incident["id"],
            "status": "RESOLVED",
            "impact": "HIGH",
            "dueDate": "2030-01-01T00:00:00+00:00",
            "task": "Export step",
            "comment": "Fixed in the new release",
        },
        manager,
    )

    # Then the reporter and the agent get one email each, listing every change old → new
    n = incident["number"]
    assert await delivered(smtp, make_worker) == {
        email(reporter): f"[#{n}] Resolved: Budget export",
        email(agent): f"[#{n}] Resolved: Budget export",
    }
    body = smtp.inbox.to(email(reporter))[0].part("plain")
    for line in (
        "Status: In progress → Resolved",
        "Task: Export step",
        "Impact: Medium → High",
        "Priority: Normal → High",
        "Due date: Jan 1, 2030, 12:00\u202fAM",
        "Fixed in the new release",
        f"https://desk.example.com/incidents/{n}",
    ):
        assert line in body


async def test_french_and_english_recipients_each_get_their_language(
    gql: GraphQLClient, make_person: MakePerson, smtp: SmtpServer, make_worker: MakeWorker
) -> None:
    # Given a French reporter, an English agent and a watcher whose locale we lack
    reporter = await make_person(Role.USER, locale="fr-FR")
    agent = await make_person(Role.AGENT, locale="en")
    watcher = await make_person(Role.USER, locale="de")
    manager = await make_person(Role.MANAGER)
    incident = await run(
        gql,
        REPORT,
        {"description": "Rapport lent", "assignedToId": None, "watcherIds": [watcher.id]},
        reporter,
    )
    await run(gql, ASSIGN, {"incidentId": incident["id"], "assignedToId": agent.id}, manager)
    await flush(smtp, make_worker)

    # When the manager puts it on hold
    await run(gql, UPDATE_STATUS, {"incidentId": incident["id"], "status": "ON_HOLD"}, manager)

    # Then each reads it in their language, English being the fallback
    n = incident["number"]
    assert await delivered(smtp, make_worker) == {
        email(reporter): f"[#{n}] En attente : Rapport lent",
        email(agent): f"[#{n}] On hold: Rapport lent",
        email(watcher): f"[#{n}] On hold: Rapport lent",
    }
    french = smtp.inbox.to(email(reporter))[0]
    assert "Statut : Nouveau → En attente" in french.part("plain")
    assert "Statut" in french.part("html")
    assert french.message["Content-Language"] == "fr"
    assert "Status: New → On hold" in smtp.inbox.to(email(agent))[0].part("plain")


def test_the_readme_prints_the_rule_table_the_code_enforces() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert render_markdown() in readme


def test_one_email_per_person_the_first_matching_rule_deciding() -> None:
    # Given a manager who reports, assigns himself and watches, and a helper also watching
    report = Involvement(
        kind=ChangeKind.REPORT,
        actor_id=1,
        reporter_id=1,
        assignee_id=1,
        supporter_ids=[2],
        watcher_ids=[1, 2],
        manager_ids=[1, 3],
    )
    # Then he gets only his receipt, the helper one email, the other manager one
    assert recipients(report, active_ids={1, 2, 3}) == {
        1: NoticeReason.RECEIPT,
        2: NoticeReason.REPORTED,
        3: NoticeReason.REPORTED,
    }
    # And an inactive user gets nothing
    assert recipients(report, active_ids={1, 2}) == {
        1: NoticeReason.RECEIPT,
        2: NoticeReason.REPORTED,
    }
