"""The inbox in a real browser: a new hand-off shows up without a reload (web/static/inbox.js).
Skipped where there is no Chromium to drive."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.web.console_client import ConsoleSite

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")


async def test_a_new_hand_off_appears_in_an_open_inbox(site: ConsoleSite) -> None:
    playwright = pytest.importorskip("playwright.async_api")
    link = await site.login_link(await site.add_rep("Maria", role="manager"))
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(link)
        await page.click("button[type=submit]")  # the sign-in button
        await page.goto(f"{site.base_url}/inbox")
        assert "Nobody is waiting for a person." in await page.inner_text("main")

        ann = site.bot.customer("1001", channel="telegram", name="Ann Lee")
        await ann.say("I want to talk to a human")
        await asyncio.sleep(6)  # the script asks every five seconds

        shown = await page.inner_text("#inbox-lists")
        await browser.close()
    assert "#1 · Ann Lee" in shown
    assert "Nobody is waiting for a person." not in shown
