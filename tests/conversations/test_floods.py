"""A sender writing faster than a person reads: stored, told once, read together after."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.tables import messages
from tests.harness import BotHarness

SLOW_DOWN = (
    "You're writing faster than I can answer. I've kept everything you sent, and I'll read it "
    "all together once you pause for a moment."
)


async def held_count(bot: BotHarness) -> int:
    async with bot.database.transaction() as uow:
        return len(await uow.touchpoints.search(kind="message_held", limit=1000))


async def test_past_the_limit_one_slow_down_then_the_next_turn_reads_everything(
    bot: BotHarness,
) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann")
    for _ in range(20):  # twenty at one moment: the limit, still answered one by one
        assert await ann.say("thanks")
    assert await ann.say("I need a quote for 20 standing desks") == [SLOW_DOWN]
    assert await ann.say("my email is ann@initech.example") == []
    assert await ann.say("for our Berlin office, by March") == []
    assert await held_count(bot) == 3

    bot.clock.advance(seconds=61)
    replies = await ann.say("Ann Lee here")
    # The held messages came first in that turn: the lead has its need and email already.
    assert replies[0].startswith("Great, I'll prepare this for our sales team.")
    async with bot.database.transaction() as uow:
        [*_, last] = await uow.touchpoints.search(kind="message_in", limit=1000)
        query = select(func.count()).select_from(messages).where(messages.c.direction == "in")
        stored = (await uow.connection.execute(query)).scalar_one()
    assert str(last.details["text"]).startswith(
        "I need a quote for 20 standing desks\nmy email is ann@initech.example\n"
        "for our Berlin office, by March\nAnn Lee here"
    )
    assert stored == 24  # every message is kept
    assert "Email: ann@initech.example" not in " ".join(replies)  # not asked for again later
    assert "email address or a phone number" not in " ".join(replies)


async def test_when_nothing_more_comes_a_timer_reads_the_held_messages(bot: BotHarness) -> None:
    bob = bot.customer("2002", channel="telegram", name="Bob")
    for _ in range(20):
        await bob.say("thanks")
    assert await bob.say("I want to talk to a human") == [SLOW_DOWN]

    bot.clock.advance(seconds=61)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()

    assert bob.channel.texts_to("2002")[-1].startswith("Nobody from our team is available")
    async with bot.database.transaction() as uow:
        [nobody] = await uow.touchpoints.search(kind="nobody_available")
    assert nobody.details == {"reason": "customer_asked"}


async def test_a_sender_under_the_limit_is_never_held(bot: BotHarness) -> None:
    cleo = bot.customer("3003", channel="telegram")
    for _ in range(10):
        await cleo.say("thanks")
        bot.clock.advance(seconds=7)  # ten in a minute, at a person's pace
    assert await held_count(bot) == 0
