"""Steps of a visit that many browser tests begin with."""

from __future__ import annotations

from playwright.async_api import Page

from tests.web.console_client import ConsoleSite


async def sign_in(page: Page, site: ConsoleSite, rep_id: int, name: str) -> None:
    """Open a fresh one-time link and press its button, as a person does; ends on the dashboard."""
    await page.goto(await site.login_link(rep_id))
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await page.wait_for_url(f"{site.base_url}/")


async def overflows_sideways(page: Page) -> bool:
    """Whether the page is wider than the window (a phone would scroll it sideways)."""
    width: bool = await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    return width
