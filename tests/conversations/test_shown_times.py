"""Times and spans the bot tells a customer: in the company's time zone (TIMEZONE), and never
"within 0 hours"."""

from __future__ import annotations

import pytest

from bot.bootstrap import build_services
from bot.settings import Settings
from storage.uow import Database
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, FakeClock

COMPLAINT = "My order 5531 arrived damaged, two chairs have broken armrests"


def bot_with(database: Database, clock: FakeClock, **settings: object) -> BotHarness:
    services = build_services(Settings(_env_file=None, **settings))  # type: ignore[arg-type]
    return BotHarness(database, clock, services)


@pytest.mark.parametrize(
    ("hours", "english", "russian"),
    [
        (24, "within 24 hours.", "в течение 24 ч."),
        (1, "within 1 hour.", "в течение 1 ч."),
        (1.5, "within 1.5 hours.", "в течение 1.5 ч."),
        (0.5, "within 30 minutes.", "в течение 30 мин."),
        (0.01, "within 1 minute.", "в течение 1 мин."),  # once "within 0 hours"
    ],
)
async def test_the_follow_up_promise_names_a_span_a_person_can_read(
    database: Database, clock: FakeClock, hours: float, english: str, russian: str
) -> None:
    bot = bot_with(database, clock, followup_after_hours=hours, timezone="UTC")
    [opened] = await bot.customer("alice").say(COMPLAINT)
    assert english in opened
    [opened_ru] = await bot.customer("ivan").say(
        "Мой заказ 5532 пришёл повреждённым, сломаны ножки"
    )
    assert russian in opened_ru


async def test_a_tickets_status_shows_its_time_in_the_companys_zone(
    database: Database, clock: FakeClock
) -> None:
    bot = bot_with(database, clock, timezone="Europe/Berlin")  # the clock reads 09:00 UTC
    alice = bot.customer("alice")
    await alice.say(COMPLAINT)
    assert await alice.say("status #1001") == [
        "Request #1001 (delivery problem): open, last updated 2026-03-02 10:00 CET."
    ]


async def test_outside_the_reps_hours_the_customer_is_told_when_in_the_companys_zone(
    database: Database, clock: FakeClock
) -> None:
    # Monday 09:00 UTC is 12:00 in Moscow: after the reps' day there ended at 11:00, the next
    # opening is Tuesday 09:00 Moscow time (06:00 UTC).
    bot = bot_with(database, clock, rep_hours="09:00-11:00", timezone="Europe/Moscow")
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    [told] = await bot.customer("alice").say("/human")
    assert "a person will answer right here from 2026-03-03 09:00 MSK." in told


async def test_rep_hours_follow_the_old_setting_name_too(
    database: Database, clock: FakeClock
) -> None:
    bot = bot_with(database, clock, rep_hours="09:00-11:00", rep_timezone="Europe/Moscow")
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    [told] = await bot.customer("alice").say("/human")
    assert "from 2026-03-03 09:00 MSK." in told
