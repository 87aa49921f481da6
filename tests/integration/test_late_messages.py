"""A message older, by its channel's sequence (Telegram's message id), than one already handled
in its conversation is late: stored, shown in its place on the timeline, never answered out of
order. Through the real dispatcher on both engines."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.model import InboundMessage, Outcome
from bot.records import Conversation
from storage.tables import messages, outbox
from storage.uow import Database
from tests.harness import BotHarness, Customer
from tests.integration.helpers import another_instance, outbox_rows, stored_messages
from web.contact_views import contact_view

DESKS = "Hi, I'd like a quote for 40 standing desks for our new office"
NAME_AND_CONTACT = (
    "Who should our sales rep contact? Please write your name and an email address or a phone "
    "number."
)
ANNA = "Anna Petrova, anna@example.org"
LATE = "Actually make it 45 desks"


def telegram_message(customer: Customer, text: str, sequence: int) -> InboundMessage:
    """Message `sequence` of the customer's chat, sent at the clock's time."""
    chat = customer.address.value
    return customer.message(text, external_id=f"{chat}:{sequence}", sequence=sequence)


async def conversation_of(database: Database, customer: Customer) -> Conversation:
    async with database.transaction() as uow:
        found = await uow.conversations.find(customer.address.channel, customer.address.value)
    assert found is not None
    return found


async def timeline_texts(database: Database, contact_id: int) -> list[tuple[str, bool]]:
    """The customer's messages as the console's contact page shows them (newest first),
    oldest first, with whether each is marked late."""
    async with database.transaction() as uow:
        contact = await uow.contacts.get(contact_id)
        assert contact is not None
        view = await contact_view(uow, contact, page=0, with_conflicts=False)
    entries = [e for e in reversed(view.timeline) if e.touchpoint.kind == "message_in"]
    return [(e.said or "", e.details.get("late") is True) for e in entries]


async def test_a_message_that_arrives_after_a_newer_one_is_stored_and_shown_but_not_answered(
    bot: BotHarness,
) -> None:
    anna = bot.customer("1001", channel="telegram")
    assert (await anna.send(telegram_message(anna, DESKS, 5)))[-1] == NAME_AND_CONTACT
    bot.clock.advance(seconds=1)
    sent_of_six = bot.clock.now  # message 6 is written now, and reaches the bot last
    bot.clock.advance(seconds=1)
    after_seven = await anna.send(telegram_message(anna, ANNA, 7))
    before = await conversation_of(bot.database, anna)
    replies_before = await outbox_rows(bot.database)
    bot.clock.advance(seconds=1)

    late = telegram_message(anna, LATE, 6)
    assert await anna.send(_sent_at(late, sent_of_six)) == []

    assert anna.last_result is not None and anna.last_result.outcome is Outcome.LATE
    assert after_seven  # 7 was answered in order: the next question of the lead
    assert await outbox_rows(bot.database) == replies_before
    after = await conversation_of(bot.database, anna)
    assert (after.current, after.version) == (before.current, before.version)
    assert after.last_sequence == 7
    assert [m.text for m in await stored_messages(bot.database, "in")] == [DESKS, ANNA, LATE]
    assert await timeline_texts(bot.database, after.contact_id) == [
        (DESKS, False),
        (LATE, True),
        (ANNA, False),
    ]


async def test_a_late_message_keeps_its_place_whatever_its_sending_time_says(
    bot: BotHarness,
) -> None:
    """Telegram's dates have whole seconds: message 6 may say it was sent before message 5's
    turn began, or, from a clock ahead of ours, after message 7's. It stays between them."""
    anna = bot.customer("1001", channel="telegram")
    await anna.send(telegram_message(anna, "first", 5))
    bot.clock.advance(seconds=1)
    await anna.send(telegram_message(anna, "third", 7))
    bot.clock.advance(seconds=1)
    await anna.send(_sent_at(telegram_message(anna, "second", 6), datetime(2026, 1, 1)))
    bot.clock.advance(seconds=1)
    await anna.send(_sent_at(telegram_message(anna, "fourth", 8), datetime(2026, 1, 1)))
    bot.clock.advance(seconds=1)
    await anna.send(telegram_message(anna, "sixth", 10))
    await anna.send(_sent_at(telegram_message(anna, "fifth", 9), datetime(2027, 1, 1)))

    contact_id = (await conversation_of(bot.database, anna)).contact_id
    texts = [text for text, _ in await timeline_texts(bot.database, contact_id)]
    assert texts == ["first", "second", "third", "fourth", "fifth", "sixth"]


async def test_several_late_messages_stand_in_their_own_order(bot: BotHarness) -> None:
    anna = bot.customer("1001", channel="telegram")
    await anna.send(telegram_message(anna, "first", 1))
    bot.clock.advance(seconds=1)
    await anna.send(telegram_message(anna, "last", 9))
    for sequence, text in ((7, "seventh"), (3, "third"), (5, "fifth")):
        bot.clock.advance(seconds=1)
        await anna.send(telegram_message(anna, text, sequence))
        assert anna.last_result is not None and anna.last_result.outcome is Outcome.LATE

    contact_id = (await conversation_of(bot.database, anna)).contact_id
    assert await timeline_texts(bot.database, contact_id) == [
        ("first", False),
        ("third", True),
        ("fifth", True),
        ("seventh", True),
        ("last", False),
    ]


async def test_messages_in_order_are_answered_as_always(bot: BotHarness) -> None:
    anna = bot.customer("1001", channel="telegram")
    assert (await anna.send(telegram_message(anna, DESKS, 6)))[-1] == NAME_AND_CONTACT
    assert await anna.send(telegram_message(anna, ANNA, 7))
    assert anna.last_result is not None and anna.last_result.outcome is Outcome.HANDLED
    assert await bot.state_of(anna) == ("lead", "company")
    assert (await conversation_of(bot.database, anna)).last_sequence == 7


async def test_another_chat_is_not_held_to_this_chats_order(bot: BotHarness) -> None:
    anna = bot.customer("1001", channel="telegram")
    boris = bot.customer("1002", channel="telegram")
    await anna.send(telegram_message(anna, DESKS, 50))
    assert (await boris.send(telegram_message(boris, DESKS, 6)))[-1] == NAME_AND_CONTACT
    assert boris.last_result is not None and boris.last_result.outcome is Outcome.HANDLED
    assert (await conversation_of(bot.database, boris)).last_sequence == 6


async def test_a_redelivered_message_is_still_a_duplicate_in_order_or_late(
    bot: BotHarness,
) -> None:
    anna = bot.customer("1001", channel="telegram")
    five, seven, six = (telegram_message(anna, f"message {n}", n) for n in (5, 7, 6))
    for message in (five, seven, six):
        await anna.send(message)
    outcomes = []
    for message in (five, seven, six):  # Telegram delivers each once more
        assert await anna.send(message) == []
        assert anna.last_result is not None
        outcomes.append(anna.last_result.outcome)

    assert outcomes == [Outcome.DUPLICATE] * 3
    assert [m.text for m in await stored_messages(bot.database, "in")] == [
        "message 5",
        "message 7",
        "message 6",
    ]
    assert (await bot.kinds()).count("message_in") == 3


async def test_messages_without_a_sequence_are_never_late(bot: BotHarness) -> None:
    """Mail and the terminal have no order of their own: every message is answered."""
    anna = bot.customer("anna")
    assert await anna.say("Hello")
    assert await anna.say("Hello again")
    assert anna.last_result is not None and anna.last_result.outcome is Outcome.HANDLED
    assert (await conversation_of(bot.database, anna)).last_sequence is None


async def test_an_edit_of_an_older_message_is_an_edit_not_a_late_message(
    bot: BotHarness,
) -> None:
    anna = bot.customer("1001", channel="telegram")
    await anna.send(telegram_message(anna, "hello", 5))
    await anna.send(telegram_message(anna, DESKS, 7))
    edit = anna.message("hello there", external_id="1001:5:edit:1", edit_of="1001:5")
    assert await anna.send(edit) == []
    assert anna.last_result is not None and anna.last_result.outcome is Outcome.EDITED


async def test_two_instances_taking_one_chats_messages_at_once_answer_only_in_order(
    bot: BotHarness,
) -> None:
    """The webhook behind a load balancer: the messages of one chat reach two instances at
    once. The conversation's row lock serialises the turns; the sequence orders them."""
    anna = bot.customer("1001", channel="telegram")
    order = (3, 1, 2, 6, 4, 5, 9, 7, 8, 12, 10, 11)
    burst = [telegram_message(anna, "/help", sequence) for sequence in order]
    async with another_instance(bot.database) as database:
        other = Dispatcher(database, bot.services, clock=bot.clock)
        results = await asyncio.gather(
            *(
                (bot.dispatcher if at % 2 else other).accept(message)
                for at, message in enumerate(burst)
            )
        )

    outcomes = [result.outcome for result in results]
    assert set(outcomes) <= {Outcome.HANDLED, Outcome.LATE} and Outcome.HANDLED in outcomes
    assert len(await stored_messages(bot.database, "in")) == len(burst)
    answered = await _answered(bot.database)
    assert answered == sorted(answered) and len(answered) == outcomes.count(Outcome.HANDLED)
    assert (await conversation_of(bot.database, anna)).last_sequence == answered[-1]


async def _answered(database: Database) -> list[int]:
    """The sequence of the message each queued reply answers, in the order they go out."""
    query = (
        select(messages.c.external_id)
        .join(outbox, outbox.c.inbound_message_id == messages.c.id)
        .order_by(outbox.c.id)
    )
    async with database.transaction() as uow:
        keys = list((await uow.connection.execute(query)).scalars())
    return [int(key.rpartition(":")[2]) for key in keys]


def _sent_at(message: InboundMessage, when: datetime) -> InboundMessage:
    return replace(message, received_at=when.replace(tzinfo=message.received_at.tzinfo))


async def test_a_late_message_counts_the_conversation_active_where_it_stands(
    bot: BotHarness,
) -> None:
    """Message 7 came first thing in a quarter-hour and message 6 after it: 6 stands just
    before 7, in the quarter-hour before, and the report's rollup counts the conversation
    there as counting its messages does."""
    anna = bot.customer("1001", channel="telegram")
    bot.clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await anna.send(telegram_message(anna, "first", 5))
    bot.clock.now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 7 opens the 09:30 quarter-hour
    await anna.send(telegram_message(anna, "third", 7))
    bot.clock.advance(minutes=5)
    await anna.send(telegram_message(anna, "second", 6))
    assert anna.last_result is not None and anna.last_result.outcome is Outcome.LATE
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for start, end in ((0, 15), (15, 30), (30, 45), (0, 60)):
        since, until = nine + timedelta(minutes=start), nine + timedelta(minutes=end)
        async with bot.database.transaction() as uow:
            rolled = await uow.activity.by_channel(since, until)
            exact = await uow.touchpoints.conversations_by_channel(
                ("message_in", "conversation_opened"), since, until
            )
        assert rolled == exact == {"telegram": 1}, (start, end)  # 09:15: the late one
