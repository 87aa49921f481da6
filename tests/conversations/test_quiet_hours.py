"""Quiet hours (QUIET_HOURS=21:00-08:00 in TIMEZONE), as transcripts with a fake clock: what the
bot says of its own accord waits for the morning; answers to the customer do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.bootstrap import build_services
from bot.settings import Settings
from bot.turn import Context, Result, Turn
from handlers import service
from storage.uow import Database
from tests.conversations.test_handoff import QUEUED, conversation_id_of
from tests.conversations.test_handoff_waiting import TIMED_OUT
from tests.conversations.test_nobody_available import PASSED_ON
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer, FakeClock

# 21:00-08:00 in Berlin is 20:00-07:00 UTC in March (CET).
EVENING_UTC = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
RESOLVED = (
    "Good news: your request #1001 has been resolved. If something is still not right, "
    "just write here and we'll look at it again."
)
RESOLVED_RU = (
    "Хорошие новости: ваша заявка #1001 решена. Если что-то всё ещё не так, просто напишите "
    "здесь, и мы посмотрим ещё раз."
)
RATE = (
    "How satisfied are you with how we handled request #1001? Please rate it from 1 (poor) to "
    "5 (excellent)."
)
RATE_RU = (
    "Насколько вы довольны тем, как мы решили заявку #1001? Оцените, пожалуйста, от 1 (плохо) "
    "до 5 (отлично)."
)


@pytest.fixture
def bot(database: Database, clock: FakeClock) -> BotHarness:
    settings = Settings(_env_file=None, timezone="Europe/Berlin", quiet_hours="21:00-08:00")
    return BotHarness(database, clock, build_services(settings))


async def resolve(bot: BotHarness, customer: Customer, number: int) -> bool:
    """What `touchpoint tickets set-status N resolved --as REP` does: a turn of the
    conversation."""

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await service.set_status(turn, ctx, number - 1000, "resolved", rep_id=None)

    done = await bot.dispatcher.system_turn(await conversation_id_of(bot, customer), action)
    await bot.deliver()
    return done


async def at(bot: BotHarness, hour: int, minute: int = 0, *, day: int = 3) -> int:
    """The clock moves to that time (UTC, March 2026); returns how many messages went out."""
    bot.clock.now = datetime(2026, 3, day, hour, minute, tzinfo=UTC)
    await bot.scheduler.fire_due()
    return await bot.deliver()


@pytest.mark.parametrize(
    ("problem", "announced", "asked"),
    [
        ("My coffee machine arrived broken, the water tank is cracked", RESOLVED, RATE),
        ("Кофемашина пришла сломанной, бак для воды треснул", RESOLVED_RU, RATE_RU),
    ],
    ids=["en", "ru"],
)
async def test_a_ticket_resolved_at_night_is_announced_in_the_morning(
    bot: BotHarness, problem: str, announced: str, asked: str
) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say(problem)
    bot.clock.now = EVENING_UTC  # 21:30 in Berlin

    assert await resolve(bot, ann, 1001)

    assert announced not in ann.channel.texts_to("1001")
    assert await at(bot, 6, 59) == 0  # 07:59 in Berlin: still quiet
    assert announced not in ann.channel.texts_to("1001")
    assert await at(bot, 7, 0) == 2  # 08:00 in Berlin: the news, and how did we do?
    assert ann.channel.texts_to("1001")[-2:] == [announced, asked]
    [ticket] = await bot.tickets()
    assert ticket.status == "resolved"


async def test_a_ticket_resolved_in_the_day_is_announced_at_once(bot: BotHarness) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("My coffee machine arrived broken, the water tank is cracked")
    bot.clock.now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    assert await resolve(bot, ann, 1001)

    assert ann.channel.texts_to("1001")[-2:] == [RESOLVED, RATE]


async def test_a_customer_writing_at_night_is_answered_at_once_and_gets_what_waited_first(
    bot: BotHarness,
) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("My coffee machine arrived broken, the water tank is cracked")
    bot.clock.now = EVENING_UTC
    await resolve(bot, ann, 1001)
    bot.clock.advance(hours=2)  # 23:30 in Berlin

    replies = await ann.say("/status 1001")

    assert replies[:2] == [RESOLVED, RATE]  # she is awake: what waited goes out first
    assert replies[2].startswith("Request #1001")  # (her command was no rating: not asked again)
    assert await at(bot, 7, 0) == 0  # nothing left for the morning


async def test_a_followup_due_at_night_waits_for_the_morning(bot: BotHarness) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann")
    bot.clock.now = EVENING_UTC  # 21:30 in Berlin: an answer to her own message is not held
    [opened] = await ann.say("My coffee machine arrived broken, the water tank is cracked")
    assert opened.startswith("Your request #1001 is open.")

    assert await at(bot, 20, 29) == 0  # the follow-up is due 24 h later, 21:30 in Berlin
    assert await at(bot, 20, 30) == 0  # it fires, and waits in the outbox
    assert ann.channel.texts_to("1001") == [opened]
    assert await at(bot, 6, 59, day=4) == 0
    assert await at(bot, 7, 0, day=4) == 1
    assert ann.channel.texts_to("1001")[-1].startswith(
        "Following up on your request #1001: it is open"
    )


async def test_a_handoff_that_times_out_at_night_says_so_in_the_morning(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    bot.clock.now = datetime(2026, 3, 2, 19, 45, tzinfo=UTC)  # 20:45 in Berlin
    assert await ann.say("I want to talk to a human") == [QUEUED]

    assert await at(bot, 20, 15, day=2) == 0  # 21:15: it ends, and the word waits
    assert ann.channel.texts_to("1001") == [QUEUED]
    assert await at(bot, 7, 0) == 1
    assert ann.channel.texts_to("1001")[-1] == TIMED_OUT
    assert await ann.say("Please call me back") == [PASSED_ON.format(number=1001)]
