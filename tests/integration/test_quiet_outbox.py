"""Rows held for later in the outbox (the quiet hours): the relay does not send them before
their time, on both engines, and a row released early goes out in order."""

from __future__ import annotations

from datetime import timedelta

from bot.recorder import queue
from storage.repos.outbox import NewOutbound
from tests.conversations.test_handoff import conversation_id_of
from tests.harness import BotHarness, Customer
from tests.integration.helpers import outbox_rows


async def held_reply(bot: BotHarness, customer: Customer, text: str, hours: float) -> None:
    conversation_id = await conversation_id_of(bot, customer)
    row = NewOutbound(
        channel=customer.address.channel,
        address=customer.address.value,
        text=text,
        conversation_id=conversation_id,
        not_before=bot.clock.now + timedelta(hours=hours),
    )
    async with bot.database.transaction() as uow:
        await queue(uow, [row], bot.clock.now)
        await uow.commit()


async def test_a_held_row_is_not_sent_before_its_time(bot: BotHarness) -> None:
    ann = bot.customer("ann")
    await ann.say("hello")
    before = list(ann.channel.texts_to("ann"))
    await held_reply(bot, ann, "Your request #1001 has been resolved.", hours=10)

    assert await bot.deliver() == 0
    bot.clock.advance(hours=9, minutes=59)
    assert await bot.deliver() == 0
    bot.restart()  # a new process, and another relay, see the same
    assert await bot.deliver() == 0
    assert ann.channel.texts_to("ann") == before
    [*_, held] = await outbox_rows(bot.database)
    assert (held.status, held.attempts) == ("pending", 0)

    bot.clock.advance(minutes=1)
    assert await bot.deliver() == 1
    assert ann.channel.texts_to("ann") == [*before, "Your request #1001 has been resolved."]


async def test_a_released_row_goes_out_first_and_only_rows_never_tried_are_released(
    bot: BotHarness,
) -> None:
    ann = bot.customer("ann")
    await ann.say("hello")
    await held_reply(bot, ann, "held for the morning", hours=10)
    conversation_id = await conversation_id_of(bot, ann)

    async with bot.database.transaction() as uow:
        assert await uow.outbox.release_held(conversation_id, bot.clock.now) == 1
        assert await uow.outbox.release_held(conversation_id, bot.clock.now) == 0
        await uow.commit()

    assert await bot.deliver() == 1
    assert ann.channel.texts_to("ann")[-1] == "held for the morning"
