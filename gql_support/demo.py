"""Demo users and incidents for an empty database, so a newcomer can try the API at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gql_support.accounts import service as accounts
from gql_support.accounts.models import Role, User
from gql_support.incidents import service as incidents
from gql_support.incidents.changes import IncidentChanges, NewReference
from gql_support.incidents.models import Impact, IncidentStatus, IncidentType, Urgency

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
