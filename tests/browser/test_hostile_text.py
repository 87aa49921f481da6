"""Markup in what people wrote stays text in Chromium: nothing runs, nothing pops up."""

from __future__ import annotations

from playwright.async_api import Dialog, Page, expect

from tests.browser.conftest import Shot
from tests.browser.visit import sign_in
from tests.web.console_client import ConsoleSite
from tests.web.hostile import IMAGE_ONERROR, QUOTE_BREAKER, SCRIPT_TAG


async def test_a_name_written_as_markup_is_shown_as_written(
    site: ConsoleSite, page: Page, shot: Shot
) -> None:
    alerts: list[str] = []

    async def note(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", note)
    for name in (SCRIPT_TAG, IMAGE_ONERROR, QUOTE_BREAKER):
        await sign_in(page, site, await site.add_rep(name, role="manager"), name)
        await expect(page.locator(".who")).to_contain_text(f"Signed in as {name}")
        # The dashboard's charts are its own pictures; a name made none.
        assert await page.locator("main img:not(.chart), header img, svg").count() == 0
    await shot("markup-name")
    assert alerts == []
