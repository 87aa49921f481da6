"""The dashboard over a scripted day of real conversations: its figures are the report's, its
charts draw them, and each figure opens the rows behind it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import reports
from bot.kinds import TouchpointKind as Kind
from bot.turn import Context, Result, Turn
from handlers import lead_desk, office
from storage.uow import Database
from tests.conversations.test_lead_pipeline import sales_bot
from tests.conversations.test_report import DAY, a_scripted_day
from tests.harness import BotHarness, FakeClock
from tests.web.console_client import ConsoleSite, Page, Visitor
from web.routes import touchpoints as touchpoints_route

FIGURE = re.compile(r'<a href="([^"]*)" data-figure="([^"]+)" data-value="([^"]*)">')
COUNT = re.compile(r'data-count="(\d+)"')
SHOWN_DAY = "since=2026-03-02&until=2026-03-02"


@pytest.fixture
def bot(database: Database, clock: FakeClock) -> BotHarness:
    return sales_bot(database, clock)


def figures_on(page: Page) -> dict[str, tuple[str, str]]:
    """Each figure on the page: its value (as the report's JSON has it) and its link."""
    found: dict[str, tuple[str, str]] = {}
    for href, key, value in FIGURE.findall(page.text):
        found[key] = (value, href.replace("&amp;", "&"))
    return found


def in_report(figures: dict[str, Any], key: str) -> Any:
    value: Any = figures
    for part in key.split("."):
        value = value[part]
    return value


async def report_of(site: ConsoleSite) -> dict[str, Any]:
    async with site.bot.database.transaction() as uow:
        return await reports.build(
            uow, DAY, now=site.bot.clock(),
            followup_after=site.console.config.followup_after, zone=site.console.config.zone,
        )  # fmt: skip


async def a_manager(site: ConsoleSite) -> Visitor:
    async with site.bot.database.transaction() as uow:
        mia = next(rep for rep in await uow.reps.search() if rep.name == "Mia")
    return await site.signed_in(mia.id)


def assert_same_figures(page: Page, report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    shown = figures_on(page)
    for key, (value, _) in shown.items():
        expected = in_report(report, key)
        assert value == ("" if expected is None else str(expected)), key
    return shown


async def test_the_dashboard_shows_the_report_of_its_period(
    site: ConsoleSite, clock: FakeClock
) -> None:
    await a_scripted_day(site.bot, clock)
    mia = await a_manager(site)
    page = await mia.get(f"/?{SHOWN_DAY}")
    report = await report_of(site)

    shown = assert_same_figures(page, report)
    assert shown["funnel.won"][0] == "1" and shown["conversations.total"][0] == "6"
    assert {
        "funnel_by_source.spring.won",
        "funnel_by_channel.console.captured",
        "leads.by_day.2026-03-02",
    } <= set(shown)
    assert shown["speed_to_lead.by_rep.Olga.median"][0] == "1200.0"
    assert shown["handoffs.claim.by_rep.Olga.p90"][0] == "180.0"
    assert shown["csat.by_channel.telegram.average"][0] == "5.0"
    assert "20.0 min" in page.text  # Olga's p90 speed-to-lead in words
    assert "touchpoint report --since 2026-03-02 --until 2026-03-03" in page.text


async def test_each_chart_is_an_svg_of_the_figures_without_script(
    site: ConsoleSite, clock: FakeClock
) -> None:
    await a_scripted_day(site.bot, clock)
    mia = await a_manager(site)
    page = await mia.get(f"/?{SHOWN_DAY}")
    sources = re.findall(
        r'<img class="chart dashboard-chart" src="([^"]+)" alt="([^"]+)"', page.text
    )
    assert len(sources) == 4
    values = {}
    for src, _alt in sources:
        chart = await mia.get(src.replace("&amp;", "&"))
        assert chart.status == 200
        assert chart.headers["Content-Type"].startswith("image/svg+xml")
        assert "script-src" not in chart.headers["Content-Security-Policy"]
        assert "<script" not in chart.text and chart.text.startswith("<svg")
        values[urlsplit(src).path] = re.findall(r'<desc class="value">([^<]*)<', chart.text)
    assert values["/charts/funnel.svg"] == ["6", "3", "2", "1", "1", "1"]
    assert values["/charts/leads_per_day.svg"] == ["3"]
    assert "20" in values["/charts/rep_times.svg"]  # Olga's median speed-to-lead, minutes
    assert sorted(values["/charts/csat.svg"]) == ["2", "2", "5", "5"]
    stranger = await site.visitor()
    assert (await stranger.get("/charts/funnel.svg", follow=False)).status == 303


async def test_every_figure_opens_as_many_rows_as_it_counts(
    site: ConsoleSite, clock: FakeClock
) -> None:
    await a_scripted_day(site.bot, clock)
    mia = await a_manager(site)
    shown = figures_on(await mia.get(f"/?{SHOWN_DAY}"))
    opened = 0
    for key, (value, href) in shown.items():
        if href.startswith("/touchpoints") and (key.endswith(".count") or key.startswith("conv")):
            rows = await mia.get(href)
            assert COUNT.findall(rows.text) == [value], (key, href)
            assert rows.text.count("<tr data-touchpoint=") == int(value)
            opened += 1
    assert opened >= 10
    assert filters(shown["funnel_by_source.spring.captured"][1]) == {
        "source": "spring", "since": "2026-03-02", "until": "2026-03-02",
    }  # fmt: skip
    assert filters(shown["funnel.won"][1])["status"] == "won"
    assert filters(shown["funnel_by_channel.console.captured"][1])["channel"] == "console"
    assert filters(shown["funnel_by_source.spring.won"][1]) == {
        "source": "spring", "status": "won", "since": "2026-03-02", "until": "2026-03-02",
    }  # fmt: skip
    assert filters(shown["tickets.overdue_followups"][1]) == {"status": "open", "overdue": "1"}
    assert urlsplit(shown["tickets.opened"][1]).path == "/tickets"


def filters(href: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


async def test_the_rows_name_the_contact_and_the_rep(site: ConsoleSite, clock: FakeClock) -> None:
    await a_scripted_day(site.bot, clock)
    mia = await a_manager(site)
    shown = figures_on(await mia.get(f"/?{SHOWN_DAY}"))
    rows = await mia.get(shown["handoffs.claim.by_rep.Olga.count"][1])
    assert (
        "hand-off claimed" in rows.text and "rep Olga" in rows.text and "after 3.0 min" in rows.text
    )
    assert re.search(r'<a href="/contacts/\d+">Dan</a>', rows.text)


async def test_a_rep_sees_the_team_figures_but_only_their_rows(
    site: ConsoleSite, clock: FakeClock
) -> None:
    await a_scripted_day(site.bot, clock)
    newcomer = await site.signed_in(await site.add_rep("Nina"))
    page = await newcomer.get(f"/?{SHOWN_DAY}")
    shown = assert_same_figures(page, await report_of(site))
    assert "only your own leads" in page.text
    rows = await newcomer.get(shown["conversations.total"][1])
    assert COUNT.findall(rows.text) == ["0"] and "Only the touchpoints of your own" in rows.text

    async with site.bot.database.transaction() as uow:
        olga_id = next(rep.id for rep in await uow.reps.search() if rep.name == "Olga")
    olga = await site.signed_in(olga_id)
    conversations = await olga.get(shown["conversations.total"][1])
    names = set(re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', conversations.text))
    assert names == {"Ann Lee", "Иван Петров", "Carl Berg", "Dan"}  # hers, not Eve's
    assert COUNT.findall((await olga.get(shown["speed_to_lead.all.count"][1])).text) == ["2"]


async def test_bad_periods_and_kinds_are_told_not_crashed(site: ConsoleSite) -> None:
    anna = await site.signed_in(await site.add_rep("Anna", role="manager"))
    for path in (
        "/?since=yesterday",
        "/?since=2026-03-05&until=2026-03-01",
        "/?since=1990-01-01&until=2026-01-01",
        "/touchpoints?kind=everything",
        "/touchpoints?kind=csat&rep=abc",
        "/touchpoints?kind=csat&page=0",
        "/charts/funnel.svg?until=%00",
    ):
        page = await anna.get(path)
        assert page.status == 400, path
        assert "could not be read" in page.text
    assert (await anna.get("/charts/nothing.svg")).status == 404
    assert (await anna.get("/touchpoints", follow=False)).headers["Location"] == "/"
    empty = await anna.get("/")
    assert empty.status == 200 and "Nothing in this period." in empty.text


async def test_a_lead_won_moves_the_funnel(site: ConsoleSite, clock: FakeClock) -> None:
    await a_scripted_day(site.bot, clock)
    mia = await a_manager(site)
    before = figures_on(await mia.get(f"/?{SHOWN_DAY}"))
    await won_by_olga(site.bot, lead_id=3)

    page = await mia.get(f"/?{SHOWN_DAY}")
    after = assert_same_figures(page, await report_of(site))
    assert (before["funnel.won"][0], after["funnel.won"][0]) == ("1", "2")
    assert (before["funnel.contacted"][0], after["funnel.contacted"][0]) == ("2", "3")


async def won_by_olga(bot: BotHarness, *, lead_id: int) -> None:
    """Olga moves the lead to won, as `touchpoint leads set-status` does it."""
    async with bot.database.transaction() as uow:
        olga = next(rep for rep in await uow.reps.search() if rep.name == "Olga")
        lead = await uow.leads.get(lead_id)
    assert lead is not None and lead.conversation_id is not None

    async def to_won(turn: Turn, ctx: Context) -> Result | None:
        step = await office.lead_step(
            ctx, lead_id, olga,
            lambda ctx, lead, rep, now: lead_desk.set_stage(ctx, lead, rep, "won", now), turn.now,
        )  # fmt: skip
        return Result(events=step.events) if step and step.events else None

    assert await bot.dispatcher.system_turn(lead.conversation_id, to_won)
    async with bot.database.transaction() as uow:
        changed = await uow.touchpoints.search(kind=Kind.LEAD_STATUS_CHANGED, limit=1)
    assert changed[-1].actor == "operator" and changed[-1].details["to"] == "won"


async def test_the_rows_come_a_page_at_a_time(
    site: ConsoleSite, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_scripted_day(site.bot, clock)
    monkeypatch.setattr(touchpoints_route, "PER_PAGE", 4)
    mia = await a_manager(site)
    seen: list[str] = []
    for number in (1, 2):
        rows = await mia.get(f"/touchpoints?kind=conversations&{SHOWN_DAY}&page={number}")
        assert COUNT.findall(rows.text) == ["6"] and f"Page {number} of 2" in rows.text
        seen += re.findall(r'<tr data-touchpoint="(\d+)"', rows.text)
    assert len(seen) == len(set(seen)) == 6
