"""The console in a real browser: the system's Chromium driven by Playwright, over the console
served on 127.0.0.1, with full-page screenshots to look at afterwards (tests/browser/chromium.py
holds the browser, the watched tab and the screenshots, which tests/e2e shares).

    async def test_x(site: ConsoleSite, page: Page, shot: Shot) -> None:
        await page.goto(await site.login_link(rep_id))
        await shot("sign-in")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from storage.uow import Database
from tests.browser.chromium import (
    SCREENSHOTS,
    Shot,
    browser,
    docs_shot,
    screenshots,
    shot,
    watched_tab,
)
from tests.conftest import sqlite_copy
from tests.harness import BotHarness
from tests.web.console_client import ConsoleSite, serve_console

__all__ = ["Shot", "browser", "docs_shot", "screenshots", "shot"]  # fixtures of this folder


@pytest.fixture
async def database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only, overriding the suite's two-engine fixture for this folder: these tests
    check what a person sees and does in pages whose queries tests/web already runs on both
    engines, and a browser per test is the slow part (PostgreSQL would double it)."""
    db = sqlite_copy(sqlite_template, tmp_path)
    yield db
    await db.dispose()


@pytest.fixture
async def site(bot: BotHarness) -> AsyncIterator[ConsoleSite]:
    served = await serve_console(bot)
    yield served
    await served.close()


@pytest.fixture
async def page(browser: Browser, site: ConsoleSite) -> AsyncIterator[Page]:
    """A tab on the console (relative addresses work: `page.goto("/")`), watched as
    `tests.browser.chromium.watched_tab` says."""
    async with watched_tab(browser, site.base_url) as tab:
        yield tab


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    taken = terminalreporter.config.stash.get(SCREENSHOTS, [])
    if taken:
        terminalreporter.section("screenshots")
        for path in taken:
            terminalreporter.write_line(str(path))
