"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download), against the
app on a real uvicorn server, with people who sign in through the desk's own form.

Without a Chromium the browser tests skip, saying so, unless GQL_SUPPORT_TEST_REQUIRE_CHROMIUM=1
(as in CI, which installs it), which makes them fail instead. Screenshots go to the test's own
temporary folder; copy them into the README's images by hand."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from gql_support.accounts.models import Role
from tests.conftest import MakePerson, Person

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_CHROMIUM = os.environ.get("GQL_SUPPORT_TEST_REQUIRE_CHROMIUM") == "1"
PASSWORD = "correct horse battery"
#: How long a page may take to show what it waits for: generous, for a loaded machine.
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def backend() -> str:
    """Browser tests run on PostgreSQL, the production database, only: the API's behaviour on
    both databases is the API tests' business."""
    return "postgres"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "no Chromium on this machine (apt-get install chromium)"
    if REQUIRE_CHROMIUM:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Desk:
    """One person's browser (its own context, so its own cookie) on the desk."""

    def __init__(self, context: BrowserContext, page: Page, base: str, person: Person) -> None:
        self.context = context
        self.page = page
        self.base = base
        self.person = person
        #: Script errors and refusals (a CSP violation is a console error): none may happen.
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on(
            "console",
            lambda message: self.problems.append(message.text) if message.type == "error" else None,
        )
        page.set_default_timeout(WAIT_MS)

    async def sign_in(self, path: str = "/") -> None:
        """Opens ``path``, is sent to sign in, signs in, and is brought back to ``path``."""
        await self.page.goto(self.base + path)
        await self.page.wait_for_url("**/sign-in?next=*")
        await self.page.get_by_label("Email").fill(self.person.user.email)
        await self.page.get_by_label("Password").fill(PASSWORD)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url(self.base + path)


OpenDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def open_desk(browser: Browser, live_server: str) -> AsyncIterator[OpenDesk]:
    desks: list[Desk] = []

    async def open_(person: Person, *, locale: str = "en-GB") -> Desk:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        desk = Desk(context, await context.new_page(), live_server, person)
        desks.append(desk)
        return desk

    yield open_
    for desk in desks:
        await desk.context.close()
    assert [problem for desk in desks for problem in desk.problems] == []


@pytest.fixture
async def team(make_person: MakePerson) -> dict[str, Person]:
    """A manager, two agents and a user, each with the password the form is given."""
    return {
        "manager": await make_person(Role.MANAGER, name="Maya Manager", password=PASSWORD),
        "agent": await make_person(Role.AGENT, name="Arthur Agent", password=PASSWORD),
        "helper": await make_person(Role.AGENT, name="Hana Helper", password=PASSWORD),
        "user": await make_person(Role.USER, name="Ugo User", password=PASSWORD),
    }


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder
