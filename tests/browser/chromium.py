"""The system's Chromium driven by Playwright, for any test that opens the console in a
browser: the console served in-process (tests/browser) or by `touchpoint run` (tests/e2e).

    from tests.browser.chromium import browser, page, shot  # the fixtures

Chromium is Debian's package (`.ci/run` installs it); Playwright's own browser download is not
used. Where it is missing the tests skip, and fail under CI.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, async_playwright

# A headless browser that reaches nothing but the console: no updates, sync or QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root on CI machines, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = pytest.StashKey[list[Path]]()
Shot = Callable[[str], Awaitable[Path]]


def chromium_path() -> str:
    """The system's Chromium; skips where it is absent, fails under CI."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: CI must run the browser tests (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A browser per test. Playwright's objects belong to the event loop that started them and
    each test has a loop of its own, so one browser per session cannot be shared; a start costs
    about 0.8 s here (driver 0.3, Chromium 0.2, first page 0.3). `launch()` gives every browser
    a fresh, throwaway profile of its own (Playwright's temporary user-data dir)."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@asynccontextmanager
async def watched_tab(browser: Browser, base_url: str) -> AsyncIterator[Page]:
    """A tab on the console at `base_url` (relative addresses work: `page.goto("/")`). The test
    fails if a page logged an error or threw (a script or a style refused by the content
    policy, a script error) or a file it uses did not load. The pages themselves may answer
    404 or 410: tests check those statuses."""
    context = await browser.new_context(base_url=base_url, locale="en-US")
    tab = await context.new_page()
    problems: list[str] = []
    tab.on("console", lambda message: _note_error(problems, message))
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on("response", lambda response: _note_missing(problems, response))
    yield tab
    await context.close()
    assert not problems, f"the page reported problems: {problems}"


def _note_error(problems: list[str], message: ConsoleMessage) -> None:
    # Failed loads are judged by _note_missing, which knows what was loaded.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(f"{message.text} ({message.location.get('url', '')})")


def _note_missing(problems: list[str], response: Response) -> None:
    # The browser asks for /favicon.ico on its own; the console has none.
    wanted = response.request
    failed = response.status >= 400 and wanted.resource_type != "document"
    if failed and not wanted.url.endswith("/favicon.ico"):
        problems.append(f"{wanted.url} answered {response.status}")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $TOUCHPOINT_SCREENSHOTS, or a folder of this run."""
    wanted = os.environ.get("TOUCHPOINT_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot(page: Page, screenshots: Path, request: pytest.FixtureRequest) -> Shot:
    """`await shot("name")` saves the whole page as <test>-<name>.png and says where."""
    taken = request.config.stash.setdefault(SCREENSHOTS, [])

    async def take(name: str) -> Path:
        path = screenshots / f"{_file_name(request.node.name)}-{_file_name(name)}.png"
        await page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        taken.append(path)
        return path

    return take


@pytest.fixture
def docs_shot(page: Page) -> Shot:
    """`await docs_shot("name")` saves the window (not the whole page) as <name>.png under
    $TOUCHPOINT_DOCS_SCREENSHOTS, where set: how docs/screenshots is refreshed. Otherwise it
    saves nothing, so a normal run leaves the committed pictures alone."""

    async def take(name: str) -> Path:
        folder = Path(os.environ.get("TOUCHPOINT_DOCS_SCREENSHOTS", ""))
        path = folder / f"{_file_name(name)}.png"
        if folder != Path():
            await page.screenshot(path=str(path))  # Playwright makes the folder
        return path

    return take


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")
