"""A manager signs in to the console in Chromium with a one-time link, and uses its header."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Shot
from tests.browser.visit import overflows_sideways, sign_in
from tests.web.console_client import ConsoleSite


async def test_a_manager_signs_in_with_a_one_time_link(
    site: ConsoleSite, page: Page, shot: Shot
) -> None:
    anna = await site.add_rep("Anna", role="manager")
    link = await site.login_link(anna)

    await page.goto(link)
    button = page.get_by_role("button", name="Sign in as Anna")
    await expect(button).to_be_visible()
    await shot("sign-in-page")
    await button.click()

    await page.wait_for_url(f"{site.base_url}/")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.get_by_text("Signed in as Anna · manager")).to_be_visible()
    await expect(page.get_by_role("link", name="Team")).to_be_visible()  # a manager's page
    await shot("home")


async def test_a_used_link_is_refused_when_opened_again(site: ConsoleSite, page: Page) -> None:
    anna = await site.add_rep("Anna", role="manager")
    link = await site.login_link(anna)
    await page.goto(link)
    await page.get_by_role("button", name="Sign in as Anna").click()
    await page.wait_for_url(f"{site.base_url}/")

    again = await page.goto(link)
    assert again is not None and again.status == 410
    await expect(page.get_by_role("alert")).to_contain_text("cannot be used")
    await expect(page.get_by_role("button", name="Sign in as Anna")).to_have_count(0)


async def test_the_header_switches_the_interface_to_russian(
    site: ConsoleSite, page: Page, shot: Shot
) -> None:
    await sign_in(page, site, await site.add_rep("Anna", role="manager"), "Anna")

    await page.get_by_role("button", name="Русский").click()

    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.get_by_role("heading", name="Обзор")).to_be_visible()
    await expect(page.get_by_text("Вы вошли как Anna")).to_be_visible()
    await expect(page.get_by_role("button", name="English")).to_be_visible()
    await shot("home-ru")


async def test_the_header_fits_a_phone(site: ConsoleSite, page: Page, shot: Shot) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, site, await site.add_rep("Anna", role="manager"), "Anna")

    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert not await overflows_sideways(page)
    await shot("phone")

    await page.get_by_role("button", name="Русский").click()  # longer words
    await expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    assert not await overflows_sideways(page)
    await shot("phone-ru")


async def test_the_first_tab_reaches_the_skip_link(site: ConsoleSite, page: Page) -> None:
    await sign_in(page, site, await site.add_rep("Anna", role="manager"), "Anna")

    await page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
