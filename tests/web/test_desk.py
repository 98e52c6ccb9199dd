"""The web desk in a real Chromium: two people working an incident at once, the live
dashboard, a version conflict between two windows, files up and down, the email's link, and
GraphiQL with no network but our own server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import FilePayload, Route, expect

from gql_support.accounts import service as accounts
from gql_support.accounts.models import PasswordReset, Role
from gql_support.accounts.reset import ResetSigner
from gql_support.incidents import service
from gql_support.incidents.models import (
    Impact,
    Incident,
    IncidentStatus,
    IncidentSupporter,
    IncidentType,
    IncidentWatcher,
    Urgency,
)
from gql_support.settings import Settings
from tests.conftest import MakePerson, Person
from tests.web.conftest import PASSWORD, OpenDesk


async def _incident(person: Person, description: str) -> Incident:
    return await service.report_incident(
        actor=person.user,
        description=description,
        type=IncidentType.DEFECT,
        impact=Impact.MEDIUM,
        urgency=Urgency.MEDIUM,
    )


async def test_a_manager_assigns_while_the_agents_dashboard_follows_live(
    open_desk: OpenDesk, team: dict[str, Person], screenshots: Path
) -> None:
    await _incident(team["user"], "The budget export stops at 10,000 rows.")
    incident = await _incident(team["user"], "The monthly forecast export fails with a timeout.")
    # Given the agent's dashboard, already open
    agent = await open_desk(team["agent"])
    await agent.sign_in("/")
    row = agent.page.locator(f'tr[data-number="{incident.number}"]')
    await expect(row).to_contain_text("Unassigned")
    await expect(agent.page.get_by_text("Live:")).to_be_visible()
    # When the manager assigns the incident in its window and presses Save/Send
    manager = await open_desk(team["manager"])
    await manager.sign_in(f"/incidents/{incident.number}")
    window = manager.page
    await window.get_by_label("Assigned To").select_option(label="Arthur Agent")
    await window.get_by_label("Supported By").select_option(label="Hana Helper")
    await window.get_by_label("Status").select_option(label="In Progress")
    await window.get_by_label("Comment").fill("Arthur takes it, Hana helps with the export.")
    await window.screenshot(path=screenshots / "incident-window.png", full_page=True)
    await window.get_by_role("button", name="Save/Send").click()
    await expect(window.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    # Then the agent's dashboard shows the change without a reload, and marks the row
    await expect(row).to_contain_text("Arthur Agent")
    await expect(row).to_contain_text("In Progress")
    await expect(row).to_contain_text("changed")
    await expect(row).to_have_class("changed")
    await agent.page.screenshot(path=screenshots / "dashboard.png", full_page=True)
    # When the agent opens it and moves it on to Retesting
    await row.get_by_role("link").click()
    await agent.page.wait_for_url(f"**/incidents/{incident.number}")
    status = agent.page.get_by_label("Status")
    await expect(status.locator("option")).to_have_text(
        ["In Progress", "Retesting", "Resolved", "On-Hold"]
    )
    await status.select_option(label="Retesting")
    await agent.page.get_by_role("button", name="Save/Send").click()
    await expect(agent.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    # Then the manager's window, open and untouched, shows it at once
    await expect(window.get_by_label("Status")).to_have_value("RETESTING")
    await expect(window.get_by_text("just changed by Arthur Agent")).to_be_visible()
    stored = await Incident.get(id=incident.id)
    assert stored.status == IncidentStatus.RETESTING
    assert stored.assigned_to_id == team["agent"].user.id
    supporters = await IncidentSupporter.filter(incident_id=incident.id).values_list("user_id")
    assert supporters == [(team["helper"].user.id,)]


async def test_a_version_conflict_shows_what_changed_and_reapplies_the_edit(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    incident = await _incident(team["user"], "Two people edit this at once.")
    first = await open_desk(team["manager"])
    await first.sign_in(f"/incidents/{incident.number}")
    second = await open_desk(team["manager"])
    await second.sign_in(f"/incidents/{incident.number}")
    # Given an edit under way in the second window
    await second.page.get_by_label("Status").select_option(label="On-Hold")
    # When the first window saves another change
    await first.page.get_by_label("Impact").select_option(label="High")
    await first.page.get_by_role("button", name="Save/Send").click()
    await expect(first.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(second.page.get_by_text("just changed by Maya Manager")).to_be_visible()
    # And the second presses Save/Send on the version it showed
    await second.page.get_by_role("button", name="Save/Send").click()
    # Then it is told what changed meanwhile, and nothing of its own was saved
    alert = second.page.get_by_role("alert")
    await expect(alert).to_contain_text("Someone else saved this incident meanwhile")
    await expect(alert).to_contain_text("Impact: Medium → High")
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.NEW
    # When it re-applies its edit to the new version and saves again
    await alert.get_by_role("button", name="Re-apply my changes").click()
    await expect(second.page.get_by_label("Status")).to_have_value("ON_HOLD")
    await expect(second.page.get_by_label("Impact")).to_have_value("HIGH")
    await second.page.get_by_role("button", name="Save/Send").click()
    await expect(second.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    stored = await Incident.get(id=incident.id)
    assert (stored.status, stored.impact) == (IncidentStatus.ON_HOLD, Impact.HIGH)


async def test_an_error_names_its_field(open_desk: OpenDesk, team: dict[str, Person]) -> None:
    incident = await _incident(team["user"], "A due date far in the past.")
    manager = await open_desk(team["manager"])
    await manager.sign_in(f"/incidents/{incident.number}")
    await manager.page.get_by_label("Due date").fill("1999-12-31T09:00")
    await manager.page.get_by_role("button", name="Save/Send").click()
    await expect(manager.page.get_by_role("alert")).to_contain_text("Due date:")
    await expect(manager.page.get_by_label("Due date")).to_have_attribute("aria-invalid", "true")
    await expect(manager.page.get_by_label("Due date")).to_be_focused()


async def test_a_file_goes_up_with_a_comment_and_comes_back_down(
    open_desk: OpenDesk, team: dict[str, Person], tmp_path: Path
) -> None:
    incident = await _incident(team["user"], "The export log is attached.")
    user = await open_desk(team["user"])
    await user.sign_in(f"/incidents/{incident.number}")
    # A user reads the manager's fields and may not change them
    await expect(user.page.locator("#assigned-to")).to_have_text("Unassigned")
    await expect(user.page.get_by_label("Assigned To")).to_have_count(0)
    await expect(user.page.get_by_label("Due date")).to_have_count(0)
    content = b"2026-12-01 10:00 export timed out after 30 s\n"
    await user.page.get_by_label("Comment").fill("Here is the log.")
    await user.page.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="export.log", mimeType="text/plain", buffer=content)]
    )
    await user.page.get_by_label("Reference", exact=True).fill("Forecast process, step 4")
    await user.page.get_by_role("button", name="Add reference").click()
    await user.page.get_by_role("button", name="Save/Send").click()
    await expect(user.page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(user.page.locator("#references")).to_contain_text("Forecast process, step 4")
    async with user.page.expect_download() as download_info:
        await user.page.locator(".comment-list").get_by_role("link", name="export.log").click()
    download = await download_info.value
    assert download.suggested_filename == "export.log"
    saved = tmp_path / "downloaded.log"
    await download.save_as(saved)
    assert saved.read_bytes() == content


async def test_the_emails_link_opens_the_incident_after_sign_in(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    incident = await _incident(team["user"], "Opened from an email.")
    agent = await open_desk(team["agent"])
    await agent.sign_in(f"/incidents/{incident.number}")
    await expect(agent.page.get_by_role("heading", level=1)).to_have_text(
        f"Incident #{incident.number}"
    )
    await expect(agent.page.locator(".description")).to_have_text("Opened from an email.")


async def test_a_forgotten_password_is_reset_through_the_emailed_link(
    open_desk: OpenDesk, team: dict[str, Person], settings: Settings
) -> None:
    person = team["user"]
    desk = await open_desk(person)
    page = desk.page
    await page.goto(desk.base + "/sign-in")
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.wait_for_url("**/reset-password")
    await page.get_by_label("Email").fill(person.user.email)
    await page.get_by_role("button", name="Send me a reset link").click()
    await expect(page.get_by_role("status")).to_contain_text("is on its way")
    # The link the worker would email: the reset row's salt, signed with the server's key.
    reset = await PasswordReset.get(user_id=person.user.id, used_at=None)
    token = ResetSigner(secret_key=settings.secret_key.get_secret_value()).token(reset.salt)

    await page.goto(f"{desk.base}/reset-password?token={token}")
    new_password = page.get_by_label("New password (12 characters or more)")
    await expect(new_password).to_be_focused()
    assert urlsplit(page.url).query == ""
    await new_password.fill("violet tractor sunrise 87")
    await page.get_by_label("New password, again").fill("violet tractor sunrise 78")
    await page.get_by_role("button", name="Set the password").click()
    await expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    await page.get_by_label("New password, again").fill("violet tractor sunrise 87")
    await page.get_by_role("button", name="Set the password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password is changed")

    assert await accounts.user_for_token(token=person.token) is None
    await page.get_by_role("link", name="Sign in").click()
    await page.get_by_label("Email").fill(person.user.email)
    await page.get_by_label("Password").fill("violet tractor sunrise 87")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(desk.base + "/")

    # The link works once.
    await page.goto(f"{desk.base}/reset-password?token={token}")
    await page.get_by_label("New password (12 characters or more)").fill("another long secret 42")
    await page.get_by_label("New password, again").fill("another long secret 42")
    await page.get_by_role("button", name="Set the password").click()
    await expect(page.get_by_role("alert")).to_contain_text("unknown, used or expired")


async def test_signing_out_ends_the_session(open_desk: OpenDesk, team: dict[str, Person]) -> None:
    agent = await open_desk(team["agent"])
    await agent.sign_in("/")
    await agent.page.get_by_role("button", name="Sign out").click()
    await agent.page.wait_for_url("**/sign-in")
    await expect(agent.page.get_by_label("Password")).to_be_visible()
    await agent.page.goto(agent.base + "/")
    await agent.page.wait_for_url("**/sign-in?next=*")
    assert all(cookie["httpOnly"] for cookie in await agent.context.cookies())


async def test_graphiql_renders_with_no_network_but_ours(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    manager = await open_desk(team["manager"])
    await manager.sign_in("/")
    own = urlsplit(manager.base).netloc
    elsewhere: list[str] = []

    async def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await manager.context.route("**/*", only_ours)
    await manager.page.goto(manager.base + "/graphql")
    await expect(manager.page.locator(".graphiql-container")).to_be_visible()
    await expect(manager.page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    await manager.page.get_by_role("button", name="Execute query").click()
    # The default query runs as the person signed in to the desk (the session cookie)
    await expect(manager.page.locator(".result-window")).to_contain_text('"Maya Manager"')
    assert elsewhere == []


async def test_a_user_reports_an_incident_with_a_file(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    user = await open_desk(team["user"])
    await user.sign_in("/")
    await user.page.get_by_role("link", name="Report an incident").click()
    await user.page.wait_for_url("**/report")
    await user.page.get_by_label("Description").fill("Which rate applies to the March budget?")
    await user.page.get_by_label("Type").select_option(label="Clarification")
    await user.page.get_by_label("Impact").select_option(label="High")
    await user.page.get_by_label("Due date").fill("2031-03-31T17:00")
    await user.page.get_by_label("Attach files").set_input_files(
        files=[FilePayload(name="rates.csv", mimeType="text/csv", buffer=b"month,rate\n3,1.1\n")]
    )
    await user.page.get_by_role("button", name="Report an incident").click()
    # Then the new incident's window opens, with what was reported
    await user.page.wait_for_url("**/incidents/*")
    await expect(user.page.locator(".description")).to_have_text(
        "Which rate applies to the March budget?"
    )
    await expect(user.page.locator(".files")).to_contain_text("rates.csv")
    await expect(user.page.locator("#impact")).to_have_text("High")
    stored = await Incident.get(description="Which rate applies to the March budget?")
    assert (stored.type, stored.impact) == (IncidentType.CLARIFICATION, Impact.HIGH)
    assert stored.due_date is not None
    watchers = await IncidentWatcher.filter(incident_id=stored.id).values_list("user_id")
    assert watchers == [(team["user"].user.id,)]


async def test_the_desk_follows_the_users_language(
    open_desk: OpenDesk, make_person: MakePerson
) -> None:
    person = await make_person(Role.AGENT, name="Aline Agent", locale="fr", password=PASSWORD)
    desk = await open_desk(person)
    await desk.sign_in("/")
    await expect(desk.page.get_by_role("heading", level=1)).to_have_text(
        "Tableau de bord des incidents"
    )
    await expect(desk.page.get_by_role("button", name="Se déconnecter")).to_be_visible()


async def test_the_dashboard_filters_sorts_and_pages(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    for n in range(22):
        await _incident(team["user"], f"Routine request {n}.")
    mine = await _incident(team["agent"], "The agent's own report.")
    urgent = await service.report_incident(
        actor=team["user"].user,
        description="Everything is down.",
        impact=Impact.HIGH,
        urgency=Urgency.HIGH,
    )
    agent = await open_desk(team["agent"])
    await agent.sign_in("/")
    page = agent.page
    rows = page.locator("tbody tr")
    # Pages of 20, newest first
    await expect(page.get_by_text("1\N{EN DASH}20 of 24")).to_be_visible()
    await expect(rows.first).to_have_attribute("data-number", str(urgent.number))
    await page.get_by_role("button", name="Next").click()
    await expect(page.get_by_text("21\N{EN DASH}24 of 24")).to_be_visible()
    await expect(rows).to_have_count(4)
    await page.get_by_role("button", name="Previous").click()
    await expect(page.get_by_text("1\N{EN DASH}20 of 24")).to_be_visible()
    # Oldest first
    await page.get_by_label("Sort by").select_option(label="Oldest first")
    await expect(rows.first).to_contain_text("Routine request 0.")
    # By priority
    await page.get_by_label("Priority", exact=True).select_option(label="Urgent")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Everything is down.")
    await page.get_by_label("Priority", exact=True).select_option(label="All")
    # My incidents: only those the agent raised, is assigned or supports
    await page.get_by_label("My incidents").check()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-number", str(mine.number))
    await page.get_by_label("Everyone").check()
    # Search
    await page.get_by_label("Search").fill("routine 7")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Routine request 7.")


async def test_a_link_to_no_incident_says_so(open_desk: OpenDesk, team: dict[str, Person]) -> None:
    agent = await open_desk(team["agent"])
    await agent.sign_in("/incidents/999999")
    await expect(agent.page.get_by_role("alert")).to_have_text(
        "There is no incident #999999, or you may not see it."
    )
