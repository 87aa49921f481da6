"""The report's rollups say what counting the touchpoints says: customers write at scattered
moments over days (across quarter-hours, midnights in several time zones, a clock that goes
back), and for every period on whole quarter-hours the conversations counted from the rollup
are those that counting distinct conversations among the period's messages finds; for other
bounds the report counts from the touchpoints. On both engines."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import reports
from bot.kinds import ACTIVITY
from storage.repos.touchpoints import NewTouchpoint
from storage.tables import conversation_activity
from storage.uow import Database
from tests.conversations.test_lead_pipeline import sales_bot
from tests.harness import BotHarness, FakeClock

START = datetime(2026, 3, 1, 21, 50, tzinfo=UTC)
ZONES = (UTC, ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Asia/Kathmandu"))


async def scattered_week(bot: BotHarness, clock: FakeClock) -> None:
    """Twelve customers on two channels write 60 times over a week, some in bursts, some a
    day apart; once the clock steps back six minutes (another instance's clock)."""
    rng = random.Random(5)
    customers = [
        bot.customer(f"{n}", channel="telegram" if n % 2 else "console", name=f"C{n}")
        for n in range(12)
    ]
    for turn in range(60):
        await rng.choice(customers).say(rng.choice(("hello", "how much?", "thanks", "ok")))
        step = rng.choice((1, 4, 14, 16, 29, 95, 600, 1440))
        clock.advance(minutes=step)
        if turn == 30:
            clock.advance(minutes=-6)


def periods() -> list[reports.Period]:
    """Local days and whole weeks in four time zones, single quarter-hours, an hour."""
    found = []
    for zone in ZONES:
        midnight = START.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        for day in range(9):
            since = midnight + timedelta(days=day)
            found.append(reports.Period(since, since + timedelta(days=1)))
        found.append(reports.Period(midnight, midnight + timedelta(days=7)))
    for quarter in range(0, 7 * 96, 37):
        since = START.replace(minute=45) + timedelta(minutes=15 * quarter)
        found.append(reports.Period(since, since + timedelta(minutes=15 * (quarter % 5 + 1))))
    return found


async def counted_both_ways(
    database: Database, period: reports.Period
) -> tuple[dict[str, int] | None, dict[str, int]]:
    async with database.transaction() as uow:
        rolled = await uow.activity.by_channel(period.since, period.until)
        exact = await uow.touchpoints.conversations_by_channel(ACTIVITY, period.since, period.until)
    return rolled, exact


async def test_conversations_counted_from_the_rollup_equal_those_counted_from_touchpoints(
    database: Database,
) -> None:
    clock = FakeClock(START)
    bot = sales_bot(database, clock)
    await scattered_week(bot, clock)
    nonzero = 0
    for period in periods():
        rolled, exact = await counted_both_ways(database, period)
        assert rolled == exact, period
        nonzero += bool(exact)
    assert nonzero > 20  # the periods do catch activity, not only empty days


async def test_bounds_between_quarter_hours_are_counted_from_the_touchpoints(
    database: Database,
) -> None:
    clock = FakeClock(START)
    bot = sales_bot(database, clock)
    await scattered_week(bot, clock)
    ragged = reports.Period(START + timedelta(minutes=7), START + timedelta(days=2, minutes=3))
    rolled, exact = await counted_both_ways(database, ragged)
    assert rolled is None and sum(exact.values()) > 0
    async with database.transaction() as uow:
        figures = await reports.build(
            uow, ragged, now=clock.now, followup_after=timedelta(hours=24)
        )
    assert figures["conversations"]["by_channel"] == exact


async def test_only_the_first_message_of_a_quarter_hour_writes_the_rollup(
    database: Database,
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ann = sales_bot(database, clock).customer("ann", name="Ann")
    for _ in range(5):
        await ann.say("hello")
        clock.advance(minutes=2)  # 09:00 … 09:08: one quarter-hour
    clock.advance(minutes=10)  # 09:20
    await ann.say("still there?")
    async with database.transaction() as uow:
        query = select(conversation_activity.c.slot, conversation_activity.c.previous)
        found = [tuple(row) for row in await uow.connection.execute(query.order_by("slot"))]
    nine, quarter_past = (datetime(2026, 3, 2, 9, m, tzinfo=UTC) for m in (0, 15))
    assert found == [(nine, None), (quarter_past, nine)]


async def test_a_clock_behind_slots_its_quarter_hour_in_between(database: Database) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 16, tzinfo=UTC))
    ann = sales_bot(database, clock).customer("ann", name="Ann")
    await ann.say("hello")  # 09:16
    clock.advance(minutes=-2)  # 09:14 on an instance whose clock is behind
    await ann.say("hello again")
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for minutes in ((0, 15), (15, 30), (0, 30), (15, 15 * 96)):
        since, until = (nine + timedelta(minutes=m) for m in minutes)
        rolled, exact = await counted_both_ways(database, reports.Period(since, until))
        assert rolled == exact == {"console": 1}, minutes


async def test_leads_per_day_follow_the_company_calendar_through_daylight_saving(
    database: Database,
) -> None:
    """Captures every 97 minutes over the week when Berlin moves its clocks (29 March 2026),
    lead 5 captured again later (it counts once, on the day of its last capture): per local
    day they are what counting each moment's local date says, in Berlin and in Kolkata."""
    start = datetime(2026, 3, 26, tzinfo=UTC)
    moments = [start + timedelta(minutes=97 * n) for n in range(100)]
    leads = [*range(100)]
    moments.append(start + timedelta(days=5, minutes=3))
    leads.append(5)
    async with database.transaction() as uow:
        await uow.touchpoints.add(
            [
                NewTouchpoint("lead_captured", "telegram", "bot", at, details={"lead_id": lead})
                for lead, at in zip(leads, moments, strict=True)
            ]
        )
        await uow.commit()
    last_capture = dict(zip(leads, moments, strict=True))
    for zone in (ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")):
        first = datetime(2026, 3, 26, tzinfo=zone)
        period = reports.Period(first, first + timedelta(days=7))
        expected = {str((first + timedelta(days=n)).date()): 0 for n in range(7)}
        for at in last_capture.values():
            if period.since <= at < period.until:
                expected[str(at.astimezone(zone).date())] += 1
        async with database.transaction() as uow:
            figures = await reports.build(
                uow, period, now=period.until, followup_after=timedelta(hours=1), zone=zone
            )
        assert figures["leads"]["by_day"] == expected, zone
        assert figures["leads"]["total"] == sum(expected.values())


def test_the_days_of_a_period_are_cut_where_the_clocks_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    march = reports.Period(
        datetime(2026, 3, 26, tzinfo=berlin), datetime(2026, 4, 2, tzinfo=berlin)
    )
    spans = reports.day_spans(march, berlin)
    change = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET became 03:00 CEST
    assert [(s.since, s.until, s.offset) for s in spans] == [
        (march.since, change, 60),
        (change, march.until, 120),
    ]
    assert len(reports.day_spans(march, ZoneInfo("Asia/Kolkata"))) == 1
