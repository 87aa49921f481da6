"""A manager's visit to the console in Chromium, over a scripted day of real conversations
(Ann of Northwind won, Ivan of Ромашка lost, Carl of Berg GmbH waiting for a call, Dan asking
for a person, two broken orders): the dashboard and its charts, the pipeline board, a
contact's timeline, the interface in Russian and on a phone.

`TOUCHPOINT_DOCS_SCREENSHOTS=docs/screenshots` makes these tests refresh the README's pictures.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, ViewportSize, expect

from storage.uow import Database
from tests.browser.conftest import Shot
from tests.browser.visit import overflows_sideways, sign_in
from tests.conversations.test_lead_pipeline import sales_bot
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM
from tests.conversations.test_report import a_scripted_day
from tests.harness import BotHarness, FakeClock
from tests.web.console_client import ConsoleSite
from tests.web.scenes import three_leads

DAY = "/?since=2026-03-02&until=2026-03-02"
CARL = 3  # the lead accepted by Olga and never contacted
WIDE = ViewportSize(width=1920, height=1000)
DOCS = ViewportSize(width=1280, height=800)  # the README's pictures
PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def bot(database: Database, clock: FakeClock) -> BotHarness:
    return sales_bot(database, clock)


async def mia_after_the_day(
    site: ConsoleSite, clock: FakeClock, page: Page, *, busier: bool = False
) -> None:
    """The scripted day happens (and, `busier`, three more leads on the next days, worked by
    Olga), then Mia, the manager, signs in."""
    await a_scripted_day(site.bot, clock)
    if busier:
        await three_leads(site.bot)  # leads 4 to 6, which Olga takes on
        olga = site.bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
        for lead, stage in ((4, "proposal"), (5, "qualified"), (6, "contacted")):
            await olga.press(f"accept:{lead}")
            await olga.say(f"/stage {lead} {stage}")
    async with site.bot.database.transaction() as uow:
        mia = next(rep for rep in await uow.reps.search() if rep.name == "Mia")
    await sign_in(page, site, mia.id, "Mia")


async def figure(page: Page, key: str) -> str | None:
    return await page.locator(f'[data-figure="{key}"]').first.get_attribute("data-value")


async def charts_drawn(page: Page) -> list[int]:
    """The natural width of each chart on the page: 0 for one the browser could not draw."""
    widths: list[int] = await page.evaluate(
        "Array.from(document.querySelectorAll('img.chart'), i => i.complete ? i.naturalWidth : 0)"
    )
    return widths


async def test_the_dashboard_draws_its_charts_and_figures(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot, docs_shot: Shot
) -> None:
    await page.set_viewport_size(DOCS)
    await mia_after_the_day(site, clock, page)

    await page.goto(DAY)

    widths = await charts_drawn(page)
    assert len(widths) == 4 and all(width > 0 for width in widths), widths
    assert await figure(page, "conversations.total") == "6"
    assert await figure(page, "leads.total") == "3"
    assert await figure(page, "funnel.won") == "1"
    assert await figure(page, "lost") == "1"
    assert await figure(page, "tickets.opened") == "2"
    await expect(page.locator('[data-figure="funnel.contacted"]').first).to_have_text("2")
    await shot("dashboard")
    await page.evaluate("document.getElementById('totals-title').scrollIntoView()")
    await docs_shot("dashboard")


async def test_a_lead_moved_to_won_with_its_form_counts_on_the_dashboard(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot, docs_shot: Shot
) -> None:
    await page.set_viewport_size(DOCS)
    await mia_after_the_day(site, clock, page, busier=True)
    so_far = f"/?since=2026-03-02&until={clock.now.date().isoformat()}"
    await page.goto(so_far)
    won_before = int(await figure(page, "funnel.won") or 0)
    await page.get_by_role("link", name="Pipeline").click()
    await shot("board")
    await docs_shot("pipeline")

    card = page.locator(f'.lead-card[data-lead="{CARL}"]')
    await card.get_by_text("Move…").click()
    await card.get_by_label("To stage").select_option("won")
    await card.get_by_role("button", name="Move", exact=True).click()

    won = page.locator('.column[data-stage="won"]')
    await expect(won.locator(f'.lead-card[data-lead="{CARL}"]')).to_be_visible()
    await shot("moved")
    await page.goto(so_far)
    assert await figure(page, "funnel.won") == str(won_before + 1)


async def test_a_lead_dragged_to_won_counts_on_the_dashboard(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot
) -> None:
    await page.set_viewport_size(WIDE)  # every column in sight: no scrolling in mid-drag
    await mia_after_the_day(site, clock, page)
    await page.goto("/pipeline")

    card = page.locator(f'.lead-card[data-lead="{CARL}"]')
    won = page.locator('.column[data-stage="won"]')
    async with page.expect_navigation():  # the board reloads once the move is made
        await card.drag_to(won)

    await expect(won.locator(f'.lead-card[data-lead="{CARL}"]')).to_be_visible()
    await shot("dragged")
    await page.goto(DAY)
    assert await figure(page, "funnel.won") == "2"


async def test_a_phone_call_logged_on_a_contact_shows_on_the_timeline(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot, docs_shot: Shot
) -> None:
    await page.set_viewport_size(DOCS)
    await mia_after_the_day(site, clock, page)
    await page.goto("/contacts?q=Carl")
    await page.get_by_role("link", name="Carl Berg").click()
    await expect(page.get_by_role("heading", name="Timeline")).to_be_visible()

    await page.get_by_label("What it was").select_option("call")
    outcome = "Called Carl: 12 chairs confirmed, he wants a sample in grey by Friday."
    await page.get_by_label("What came of it").fill(outcome)
    await page.get_by_role("button", name="Log it").click()

    timeline = page.locator("ol.timeline")
    logged = timeline.locator("li", has_text=outcome)
    await expect(logged).to_be_visible()
    await expect(logged).to_contain_text("Phone call")
    await expect(logged).to_contain_text("Mia")
    await shot("timeline")
    await docs_shot("contact")


async def test_the_dashboard_and_the_board_in_russian(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot, docs_shot: Shot
) -> None:
    await page.set_viewport_size(DOCS)
    await mia_after_the_day(site, clock, page, busier=True)
    await page.get_by_role("button", name="Русский").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ru")

    await page.goto(DAY)
    await expect(page.get_by_role("heading", name="Обзор")).to_be_visible()
    await expect(page.get_by_role("heading", name="Воронка", exact=True)).to_be_visible()
    assert all(width > 0 for width in await charts_drawn(page))
    await shot("dashboard-ru")

    await page.goto("/pipeline")
    await expect(page.get_by_role("heading", name="Воронка", level=1)).to_be_visible()
    await expect(page.get_by_role("button", name="Показать")).to_be_visible()
    await expect(page.locator('.column[data-stage="lost"] h2')).to_contain_text("Проиграна")
    await shot("pipeline-ru")
    await docs_shot("pipeline-ru")


async def test_the_pages_fit_a_phone(
    site: ConsoleSite, clock: FakeClock, page: Page, shot: Shot, docs_shot: Shot
) -> None:
    await page.set_viewport_size(PHONE)
    await mia_after_the_day(site, clock, page)

    await page.goto(DAY)
    assert all(width > 0 for width in await charts_drawn(page))
    assert not await overflows_sideways(page)
    await shot("dashboard")
    await docs_shot("phone-dashboard")

    await page.goto("/pipeline")
    assert not await overflows_sideways(page)
    await shot("pipeline")

    await page.goto("/contacts?q=Ann")
    await page.get_by_role("link", name="Ann Lee").click()
    await expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    assert not await overflows_sideways(page)
    await shot("contact")
