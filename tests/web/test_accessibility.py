"""Every desk page, in a real Chromium: axe-core (vendored from npm, see tests/web/vendor)
finds no serious or critical violation; the dashboard and the incident window work with the
keyboard alone; the language switch turns the desk French."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from gql_support.incidents import service
from gql_support.incidents.models import Impact, IncidentType, Urgency
from tests.conftest import Person
from tests.web.conftest import OpenDesk

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")


async def _violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is. (Playwright's
    evaluate runs outside the page's CSP, which rightly forbids injected scripts.)"""
    await page.evaluate(AXE)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("path", ["/", "/incidents/{number}", "/report"])
async def test_no_serious_accessibility_violation(
    open_desk: OpenDesk, team: dict[str, Person], path: str
) -> None:
    incident = await service.report_incident(
        actor=team["user"].user,
        description="Checked by axe.",
        type=IncidentType.DEFECT,
        impact=Impact.HIGH,
        urgency=Urgency.LOW,
    )
    manager = await open_desk(team["manager"])
    await manager.sign_in(path.format(number=incident.number))
    await expect(manager.page.get_by_role("heading", level=1)).to_be_visible()
    await expect(manager.page.locator("main")).not_to_contain_text("Loading")
    assert await _violations(manager.page) == []


@pytest.mark.parametrize("path", ["/sign-in", "/reset-password"])
async def test_the_pages_before_sign_in_have_no_serious_accessibility_violation(
    open_desk: OpenDesk, team: dict[str, Person], path: str
) -> None:
    desk = await open_desk(team["user"])
    await desk.page.goto(desk.base + path)
    await expect(desk.page.get_by_label("Email")).to_be_focused()
    assert await _violations(desk.page) == []


async def _tab_to(page: Page, selector: str, *, limit: int = 60) -> None:
    """Presses Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        if await page.evaluate(f"document.activeElement?.matches({selector!r}) ?? false"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def test_the_keyboard_alone_finds_saves_and_moves_an_incident(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    incident = await service.report_incident(
        actor=team["user"].user, description="Worked with the keyboard only."
    )
    manager = await open_desk(team["manager"])
    await manager.sign_in("/")
    page = manager.page
    # Search, then open the incident from the table
    await _tab_to(page, "#search")
    await page.keyboard.type("keyboard")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await _tab_to(page, f'a[href="/incidents/{incident.number}"]')
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/incidents/{incident.number}")
    # Move the status on, write a comment, Save/Send
    await _tab_to(page, "#status")
    await page.keyboard.press("ArrowDown")
    await _tab_to(page, "#comment")
    await page.keyboard.type("Done from the keyboard.")
    await _tab_to(page, "button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(page.locator(".comment-list")).to_contain_text("Done from the keyboard.")


async def test_the_desk_speaks_french_on_request(
    open_desk: OpenDesk, team: dict[str, Person]
) -> None:
    desk = await open_desk(team["agent"])
    await desk.sign_in("/")
    await expect(desk.page.get_by_role("heading", level=1)).to_have_text("Incident dashboard")
    await desk.page.get_by_label("Language").select_option(label="Français")
    await expect(desk.page.get_by_role("heading", level=1)).to_have_text(
        "Tableau de bord des incidents"
    )
    await expect(desk.page.get_by_label("Rechercher")).to_be_visible()
    await expect(desk.page.locator("html")).to_have_attribute("lang", "fr")
