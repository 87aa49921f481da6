"""`touchpoint report` against a scripted day whose answers are known: leads captured and worked
by a rep at set times, a hand-off claimed and answered, tickets opened and resolved, ratings.
Every figure is checked, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import reports
from bot.cli.report import as_text
from bot.kinds import Actor
from handlers import service
from storage.repos import figures
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import Database
from tests.conversations.test_lead_pipeline import (
    ANN_OPENER,
    IVAN_OPENER,
    MANAGER_TELEGRAM,
    leave_lead,
    sales_bot,
)
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, FakeClock

DAY = reports.Period(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
CARL_OPENER = (
    "I'm Carl Berg from Berg GmbH, carl@berg.example, we need 12 office chairs, "
    "budget about 3000 EUR, by June"
)


async def a_scripted_day(bot: BotHarness, clock: FakeClock) -> None:
    """Monday 2 March 2026, from 09:00 UTC."""
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Mia", telegram=MANAGER_TELEGRAM, role="manager", on_duty=False)
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/start spring")  # a campaign's deep link: the lead's source
    await leave_lead(ann, ANN_OPENER)  # lead 1
    await leave_lead(bot.customer("2002", channel="telegram", name="Иван"), IVAN_OPENER)  # 2
    clock.advance(minutes=2)
    await olga.press("accept:1")
    await olga.press("accept:2")
    clock.advance(minutes=8)  # 09:10: Olga writes to Ann, ten minutes after her lead came in
    await olga.say("/msg 1 Hello Ann, Olga here.")
    await olga.say("/close 1")  # the conversation her message opened
    for stage in ("qualified", "proposal", "won"):
        await olga.say(f"/stage 1 {stage}")
    clock.advance(minutes=20)  # 09:30: she phoned Ivan
    await olga.say("/stage 2 contacted")
    await olga.say("/stage 2 lost too expensive")

    clock.advance(minutes=30)  # 10:00
    await leave_lead(bot.customer("carl"), CARL_OPENER)  # lead 3, accepted, never contacted
    await olga.press("accept:3")
    await olga.say("/next 3 +1h call Carl")

    clock.advance(minutes=60)  # 11:00: a hand-off claimed in 3 minutes, answered in 5
    await bot.customer("3003", channel="telegram", name="Dan").say("/human")
    clock.advance(minutes=3)
    await olga.press("claim:2")
    clock.advance(minutes=2)
    await olga.say("/r 2 Hi Dan, how can I help?")

    eve = bot.customer("eve")
    await eve.say("My order 5531 arrived damaged, the armrest is broken")  # ticket 1001
    await bot.customer("frank").say("My order 6620 never arrived, it is a week late")  # 1002
    first = min((await bot.tickets()), key=lambda t: t.id)
    await bot.dispatcher.system_turn(
        first.conversation_id or 0,
        lambda turn, ctx: service.set_status(turn, ctx, first.id, "resolved"),
    )
    await rated(bot, 5, "telegram", rep="Olga")
    await rated(bot, 2, "console", rep=None)


async def rated(bot: BotHarness, rating: int, channel: str, *, rep: str | None) -> None:
    """A customer's rating, as the recorder writes it."""
    async with bot.database.transaction() as uow:
        rep_id = next((r.id for r in await uow.reps.search() if r.name == rep), None)
        details: dict[str, Any] = {"rating": rating, "rep_id": rep_id}
        await uow.touchpoints.add(
            [NewTouchpoint("csat_rated", channel, Actor.CUSTOMER, bot.clock.now, details=details)]
        )
        await uow.commit()


async def report_of(bot: BotHarness, period: reports.Period, now: datetime) -> dict[str, Any]:
    async with bot.database.transaction() as uow:
        return await reports.build(uow, period, now=now, followup_after=timedelta(hours=24))


async def test_the_report_of_a_scripted_day(database: Database, clock: FakeClock) -> None:
    bot = sales_bot(database, clock)
    await a_scripted_day(bot, clock)
    figures = await report_of(bot, DAY, now=clock.now + timedelta(days=2))

    assert figures["conversations"] == {
        "total": 6,  # Ann, Ivan, Carl, Dan, Eve, Frank (reps' own chats are not customers')
        "by_channel": {"console": 3, "telegram": 3},
    }
    assert figures["leads"] == {
        "total": 3,
        "by_source": {"-": 2, "spring": 1},
        "by_channel": {"telegram": 2, "console": 1},
        "by_day": {"2026-03-02": 3},
    }
    assert figures["funnel"] == {
        "captured": 3, "contacted": 2, "qualified": 1, "proposal": 1, "won": 1,
    }  # fmt: skip
    assert figures["funnel_by_channel"] == {
        "telegram": {"captured": 2, "contacted": 2, "qualified": 1, "proposal": 1, "won": 1},
        "console": {"captured": 1, "contacted": 0, "qualified": 0, "proposal": 0, "won": 0},
    }
    assert figures["funnel_by_source"]["spring"] == {
        "captured": 1, "contacted": 1, "qualified": 1, "proposal": 1, "won": 1,
    }  # fmt: skip
    assert figures["conversion"] == {
        "contacted": 0.667, "qualified": 0.5, "proposal": 1.0, "won": 1.0,
    }  # fmt: skip
    assert (figures["won"], figures["lost"], figures["lost_reasons"]) == (
        1, 1, {"too expensive": 1},
    )  # fmt: skip
    olga = {"count": 2, "median": 1200.0, "p90": 1800.0}  # 10 and 30 minutes
    assert figures["speed_to_lead"] == {"all": olga, "by_rep": {"Olga": olga}}
    assert figures["handoffs"]["claim"]["by_rep"] == {
        "Olga": {"count": 1, "median": 180.0, "p90": 180.0}
    }
    # Dan waited 5 minutes for her first answer; her /msg to Ann opened a conversation nobody
    # waited in (it counts as the lead's first contact instead).
    assert figures["handoffs"]["first_reply"]["by_rep"] == {
        "Olga": {"count": 1, "median": 300.0, "p90": 300.0}
    }
    assert figures["csat"] == {
        "all": {"count": 2, "average": 3.5, "satisfied": 0.5},
        "by_rep": {
            "-": {"count": 1, "average": 2.0, "satisfied": 0.0},
            "Olga": {"count": 1, "average": 5.0, "satisfied": 1.0},
        },
        "by_channel": {
            "console": {"count": 1, "average": 2.0, "satisfied": 0.0},
            "telegram": {"count": 1, "average": 5.0, "satisfied": 1.0},
        },
    }
    assert figures["tickets"] == {
        "opened": 2, "resolved": 1, "overdue_followups": 1, "overdue_next_steps": 1,
    }  # fmt: skip


async def test_a_period_counts_only_what_happened_in_it(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await a_scripted_day(bot, clock)
    before = reports.Period(DAY.since - timedelta(days=1), DAY.since)
    figures = await report_of(bot, before, now=DAY.since)
    assert figures["conversations"]["total"] == 0
    assert figures["funnel"]["captured"] == 0 and figures["conversion"]["contacted"] is None
    assert figures["speed_to_lead"]["all"] == {"count": 0, "median": None, "p90": None}
    morning = reports.Period(DAY.since, DAY.since + timedelta(hours=9, minutes=5))
    early = await report_of(bot, morning, now=morning.until)
    # Leads 1 and 2 came in; nobody had contacted them yet by 09:05.
    assert early["funnel"] == {
        "captured": 2, "contacted": 0, "qualified": 0, "proposal": 0, "won": 0,
    }  # fmt: skip


async def speed_of(database: Database, latencies: list[float]) -> dict[str, Any]:
    """The speed-to-lead figure of a day when leads were first contacted after these times
    (rep 1 contacted every third of them, rep 2 the others)."""
    moment = DAY.since + timedelta(hours=9)
    points = [
        NewTouchpoint("lead_contacted", "telegram", Actor.REP, moment + timedelta(minutes=n),
                      details={"lead_id": n, "rep_id": 1 + (n % 3 > 0), "latency": latency})
        for n, latency in enumerate(latencies)
    ]  # fmt: skip
    async with database.transaction() as uow:
        await uow.touchpoints.add(points)
        figures = await reports.build(
            uow, DAY, now=DAY.until, followup_after=timedelta(hours=1), sections=["speed_to_lead"]
        )
    return dict(figures["speed_to_lead"])


async def test_nearest_rank_percentiles(database: Database) -> None:
    assert await speed_of(database, []) == {
        "all": {"count": 0, "median": None, "p90": None}, "by_rep": {}
    }  # fmt: skip
    values = [float(v) for v in (7, 1, 10, 3, 5, 2, 9, 4, 6, 8)]  # written in no order
    ten = await speed_of(database, values)
    assert ten["all"] == {"count": 10, "median": 5.5, "p90": 9.0}
    # rep 1 answered 7, 3, 9 and 8 (n = 0, 3, 6, 9); rep 2 the six others
    assert ten["by_rep"] == {
        "rep 1": {"count": 4, "median": 7.5, "p90": 9.0},
        "rep 2": {"count": 6, "median": 4.5, "p90": 10.0},
    }


async def test_a_single_value_and_an_outlier(database: Database) -> None:
    assert (await speed_of(database, [5.0]))["all"] == {"count": 1, "median": 5.0, "p90": 5.0}
    eleven = await speed_of(database, [*(float(v) for v in range(1, 11)), 100.0])
    assert eleven["all"] == {"count": 11, "median": 6.0, "p90": 10.0}


async def test_the_text_report_reads_as_the_readme_shows_it(
    database: Database, clock: FakeClock
) -> None:
    bot = sales_bot(database, clock)
    await a_scripted_day(bot, clock)
    text = as_text(await report_of(bot, DAY, now=clock.now), ZoneInfo("UTC"))
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```text\nFunnel:", 1)[1].split("```", 1)[0]
    for line in ("Funnel:" + shown).strip().splitlines():
        assert line in text.splitlines(), line


async def test_a_reopened_lead_is_neither_won_nor_lost_but_keeps_its_furthest_stage(
    database: Database, clock: FakeClock
) -> None:
    """Lead 50 is lost, then reopened at `qualified`; lead 51 is lost without a reason given.
    Written as the recorder writes them (the bot's commands refuse to reopen a closed lead)."""
    bot = BotHarness(database, clock)
    moment = DAY.since + timedelta(hours=9)
    await timeline(
        bot,
        ("lead_captured", {"lead_id": 50, "source": "expo"}, moment),
        ("lead_captured", {"lead_id": 51}, moment),
        ("lead_status_changed", {"lead_id": 50, "to": "proposal"}, moment + timedelta(minutes=1)),
        ("lead_status_changed", {"lead_id": 50, "to": "lost", "reason": "no budget"}, moment + timedelta(minutes=2)),
        ("lead_status_changed", {"lead_id": 50, "to": "qualified"}, moment + timedelta(minutes=3)),
        ("lead_status_changed", {"lead_id": 51, "to": "lost", "reason": None}, moment + timedelta(minutes=4)),
    )  # fmt: skip
    figures = await report_of(bot, DAY, now=DAY.until)

    assert (figures["won"], figures["lost"], figures["lost_reasons"]) == (0, 1, {"-": 1})
    assert figures["funnel"] == {
        "captured": 2, "contacted": 1, "qualified": 1, "proposal": 1, "won": 0,
    }  # fmt: skip
    assert figures["leads"]["by_source"] == {"expo": 1, "-": 1}


async def timeline(bot: BotHarness, *written: tuple[str, dict[str, Any], datetime]) -> None:
    async with bot.database.transaction() as uow:
        await uow.touchpoints.add(
            [
                NewTouchpoint(kind, "telegram", Actor.SYSTEM, moment, details=details)
                for kind, details, moment in written
            ]
        )
        await uow.commit()


def test_every_kind_the_report_counts_has_its_figures_rows() -> None:
    assert {str(kind) for kind in reports.COUNTED} == figures.COUNTED
