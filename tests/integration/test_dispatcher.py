"""The dispatcher's guarantees: idempotent, ordered, parks poison, never acks what is not durable."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bot.dispatch import UNAVAILABLE, Dispatcher
from bot.intake import UNKNOWN_ADDRESS
from bot.model import AcceptResult, Address, InboundKind, InboundMessage, Outcome, Sender
from storage.tables import dead_letters, service_requests, ticket_notes, timers
from storage.uow import Database
from tests.harness import BotHarness, Customer, FakeClock
from tests.integration.helpers import (
    TurnHeldAtTheLock,
    another_instance,
    count_rows,
    kinds,
    outbox_rows,
    services_without_text,
    stored_messages,
    unreachable_like,
)

BROKEN_SCREEN = "My order 12345 arrived broken, the screen is cracked and it does not turn on"
DESKS = "Hi, I'd like a quote for 40 standing desks for our new office"
GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)
NAME_AND_CONTACT = "Who should our sales rep contact? Please write your name and an email address or a phone number."


async def test_redelivered_message_is_stored_and_answered_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    hello = alice.message("Hello")

    first = await alice.send(hello)
    first_result = alice.last_result
    again = await alice.send(hello)

    assert first == [GREETING, "What would you like to do?"]
    assert again == []
    assert first_result is not None and first_result.outcome is Outcome.HANDLED
    assert alice.last_result is not None
    assert alice.last_result.outcome is Outcome.DUPLICATE
    assert alice.last_result.conversation_id == first_result.conversation_id
    assert [m.text for m in await stored_messages(bot.database, "in")] == ["Hello"]
    assert (await kinds(bot.database)).count("message_in") == 1
    assert len(await outbox_rows(bot.database)) == 2


async def test_edited_message_updates_the_stored_text_and_starts_no_new_turn(
    bot: BotHarness,
) -> None:
    anna = bot.customer("anna")
    await _complete_lead(anna, first_message=anna.message(DESKS, external_id="tg:1"))
    sent_before = len(anna.channel.sent)

    edit = anna.message(
        "Hi, I'd like a quote for 50 standing desks", external_id="tg:1:edit:1", edit_of="tg:1"
    )
    assert await anna.send(edit) == []
    edited = anna.last_result
    assert await anna.send(edit) == []  # the edit redelivered

    assert edited is not None and edited.outcome is Outcome.EDITED
    assert anna.last_result is not None and anna.last_result.outcome is Outcome.DUPLICATE
    [original] = [m for m in await stored_messages(bot.database) if m.external_id == "tg:1"]
    assert (original.text, original.edited) == ("Hi, I'd like a quote for 50 standing desks", True)
    assert len(anna.channel.sent) == sent_before
    assert len(await bot.leads()) == 1
    assert await bot.state_of(anna) == ("idle", None)
    async with bot.database.transaction() as uow:
        [touchpoint] = await uow.touchpoints.search(kind="message_edited")
    assert touchpoint.details == {"external_id": "tg:1", "known": True}


async def test_poison_message_is_parked_and_leaves_nothing_half_written(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    # The operator deleted the "ticket opened" text: every turn that opens a ticket fails after
    # it already wrote the ticket, its note and its follow-up timer.
    bot = BotHarness(database, clock, services_without_text("service.opened", tmp_path))
    alice = bot.customer("alice")
    assert await alice.say("Hello") == [GREETING, "What would you like to do?"]
    outbox_before = await outbox_rows(database)

    poison = alice.message(BROKEN_SCREEN, external_id="poison-1")
    assert await alice.send(poison) == []
    parked = alice.last_result
    assert await alice.send(poison) == []  # redelivered: parked again, stored once

    assert parked is not None and parked.outcome is Outcome.PARKED
    async with database.transaction() as uow:
        [letter] = await uow.dead_letters.search()
        [touchpoint] = await uow.touchpoints.search(kind="parked")
    assert (letter.channel, letter.external_id) == ("console", "poison-1")
    assert "service.opened" in letter.error and letter.error.startswith("TextsError")
    assert touchpoint.details["external_id"] == "poison-1"
    assert [m.external_id for m in await stored_messages(database)] == [
        "m1",
        "out:sent-0",
        "out:sent-1",
    ]
    assert await outbox_rows(database) == outbox_before
    for table in (service_requests, ticket_notes, timers):
        assert await count_rows(database, table) == 0, table.name
    assert await bot.state_of(alice) == ("idle", None)

    # The conversation is not stalled: the next message is handled as usual.
    replies = await alice.say(DESKS)
    assert replies[1] == NAME_AND_CONTACT
    assert alice.last_result is not None and alice.last_result.outcome is Outcome.HANDLED
    assert await bot.state_of(alice) == ("lead", "name_contact")


async def test_a_parked_message_keeps_its_sender_and_an_unreadable_one_none(
    bot: BotHarness,
) -> None:
    dispatcher = Dispatcher(bot.database, bot.services, clock=bot.clock)
    unreadable = InboundMessage(
        external_id="mail:7:1",
        address=Address("console", UNKNOWN_ADDRESS),
        sender=Sender(""),
        kind=InboundKind.UNREADABLE,
        reason="the worker ran out of time",
        raw=b"\x00" * 64,
    )
    from_bob = replace(unreadable, external_id="mail:7:2", address=Address("console", "bob"))

    assert (await dispatcher.accept(unreadable)).outcome is Outcome.PARKED
    assert (await dispatcher.accept(from_bob)).outcome is Outcome.PARKED

    async with bot.database.transaction() as uow:
        query = select(dead_letters.c.external_id, dead_letters.c.address)
        rows = (await uow.connection.execute(query.order_by(dead_letters.c.id))).all()
    assert [tuple(row) for row in rows] == [("mail:7:1", None), ("mail:7:2", "bob")]


async def test_a_committed_turn_wakes_the_delivery_of_the_channels_it_queued_to(
    bot: BotHarness,
) -> None:
    woken: list[set[str]] = []
    dispatcher = Dispatcher(
        bot.database, bot.services, clock=bot.clock, on_commit=lambda c: woken.append(set(c))
    )
    alice = bot.customer("alice")

    hello = alice.message("Hello")
    await dispatcher.accept(hello)  # replies to her console
    await dispatcher.accept(alice.message("thanks"))
    await dispatcher.accept(hello)  # redelivered: nothing queued, nobody woken

    assert woken == [{"console"}, {"console"}]


async def test_unavailable_database_makes_accept_raise_so_the_adapter_does_not_ack(
    bot: BotHarness, tmp_path: Path
) -> None:
    alice = bot.customer("alice")
    hello = alice.message("Hello")
    unreachable = unreachable_like(bot.database, tmp_path)
    try:
        down = Dispatcher(unreachable, bot.services, clock=bot.clock)
        with pytest.raises(UNAVAILABLE):
            await down.accept(hello)
    finally:
        await unreachable.dispose()

    # Not acknowledged, so the channel redelivers it; once the database is back, it is handled.
    assert await alice.send(hello) == [GREETING, "What would you like to do?"]
    assert alice.last_result is not None and alice.last_result.outcome is Outcome.HANDLED


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_connection_lost_in_the_middle_of_a_turn_is_not_parked(bot: BotHarness) -> None:
    # Regression: asyncpg reports a connection killed mid-statement (a server restart, a
    # failover) as a plain DBAPIError, so the turn was parked and acknowledged: the customer's
    # message went to the dead letters and was never answered.
    # Only PostgreSQL: only a database server can drop the connection of an open transaction.
    alice = bot.customer("alice")
    # The conversation exists, so another instance can lock it (no greeting yet: "Hello" below
    # gets the whole one).
    await alice.say("thanks")
    hello = alice.message("Hello")

    async with (
        another_instance(bot.database) as other,
        TurnHeldAtTheLock(other, "console", "alice") as held,
    ):
        turn = asyncio.create_task(bot.dispatcher.accept(hello))
        await held.lose_connection()
        with pytest.raises(DBAPIError):
            await turn

    async with bot.database.transaction() as uow:
        assert await uow.dead_letters.search() == []
    assert await alice.send(hello) == [GREETING, "What would you like to do?"]
    assert alice.last_result is not None and alice.last_result.outcome is Outcome.HANDLED


async def test_twenty_messages_of_one_conversation_at_once_are_handled_in_order(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    texts = [BROKEN_SCREEN] + [f"Additional detail number {n} for you" for n in range(1, 20)]

    results = await asyncio.gather(*(bot.dispatcher.accept(alice.message(t)) for t in texts))
    await bot.deliver()

    assert [result.outcome for result in results] == [Outcome.HANDLED] * 20
    assert [m.text for m in await stored_messages(bot.database, "in")] == texts
    [ticket] = await bot.tickets()
    async with bot.database.transaction() as uow:
        notes = [text for _author, text, _at in await uow.tickets.notes(ticket.id)]
        assert await uow.dead_letters.search() == []
    assert notes == texts
    replies = alice.channel.texts_to("alice")
    assert replies[0].startswith("Your request #1001 is open.")
    assert replies[1:] == ["Added to your request #1001."] * 19


async def test_lead_answers_sent_all_at_once_make_the_same_lead_as_one_by_one(
    bot: BotHarness,
) -> None:
    anna = bot.customer("anna")
    answers = [
        anna.message(DESKS),
        anna.message("Anna Petrova"),
        anna.message("Northwind Ltd"),
        anna.message("anna@northwind.example"),
        anna.message(button="lead:skip"),
        anna.message("ASAP, this month"),
        anna.message(button="lead:confirm"),
    ]

    results = await asyncio.gather(*(bot.dispatcher.accept(message) for message in answers))

    assert [result.outcome for result in results] == [Outcome.HANDLED] * 7
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == (
        "Anna Petrova",
        "Northwind Ltd",
        "anna@northwind.example",
    )
    assert (lead.budget, lead.timeline) == (None, "ASAP, this month")
    assert await bot.state_of(anna) == ("idle", None)
    async with bot.database.transaction() as uow:
        assert await uow.dead_letters.search() == []


async def test_ten_conversations_at_once_all_succeed(bot: BotHarness) -> None:
    customers = [bot.customer(f"customer-{n}") for n in range(10)]

    results = await asyncio.gather(
        *(bot.dispatcher.accept(customer.message(DESKS)) for customer in customers)
    )
    await bot.deliver()

    assert [result.outcome for result in results] == [Outcome.HANDLED] * 10
    assert len({result.conversation_id for result in results}) == 10
    for customer in customers:
        assert customer.channel.texts_to(customer.address.value)[1] == NAME_AND_CONTACT
        assert await bot.state_of(customer) == ("lead", "name_contact")
    async with bot.database.transaction() as uow:
        assert await uow.contacts.count() == 10


async def test_one_person_writing_in_several_threads_at_once_stays_one_contact(
    bot: BotHarness,
) -> None:
    # Regression: on PostgreSQL, turns of different threads run concurrently; each saw no
    # owner for the address, created a contact of its own, lost the identity race and still
    # attached its conversation to the new, identity-less contact.
    address = Address("email", "zed@example.org")
    emails = [
        InboundMessage(
            external_id=f"<m{n}@example.org>",
            address=address,
            sender=Sender("zed@example.org", "Zed"),
            text="Hello there",
            thread_key=f"<m{n}@example.org>",
        )
        for n in range(10)
    ]

    results = await asyncio.gather(*(bot.dispatcher.accept(email) for email in emails))

    assert {result.outcome for result in results} == {Outcome.HANDLED}
    async with bot.database.transaction() as uow:
        owner = await uow.contacts.owner_of("email", "zed@example.org")
        assert owner is not None
        threads = await uow.conversations.for_contact(owner)
        assert await uow.contacts.count() == 1
    assert len(threads) == 10


async def test_two_instances_receiving_the_same_updates_process_each_once_in_order(
    bot: BotHarness,
) -> None:
    # A webhook retried to another instance: both receive every message of the lead flow.
    anna = bot.customer("anna")
    flow = [
        anna.message(DESKS),
        anna.message("Anna Petrova"),
        anna.message("Northwind Ltd"),
        anna.message("anna@northwind.example"),
        anna.message(button="lead:skip"),
        anna.message(button="lead:skip"),
        anna.message(button="lead:confirm"),
    ]
    async with another_instance(bot.database) as database:
        other = Dispatcher(database, bot.services, clock=bot.clock)
        mine, theirs = await asyncio.gather(
            _accept_in_turn(bot.dispatcher, flow), _accept_in_turn(other, flow)
        )

    for one, another in zip(mine, theirs, strict=True):
        assert {one.outcome, another.outcome} == {Outcome.HANDLED, Outcome.DUPLICATE}
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == (
        "Anna Petrova",
        "Northwind Ltd",
        "anna@northwind.example",
    )
    assert len(await stored_messages(bot.database, "in")) == 7
    assert (await bot.kinds()).count("lead_captured") == 1


async def test_restart_in_the_middle_of_a_lead_continues_at_the_same_step(
    bot: BotHarness,
) -> None:
    anna = bot.customer("anna")
    await anna.say(DESKS)
    await anna.say("Anna Petrova")
    # The process dies after committing a turn but before its reply went out.
    await bot.dispatcher.accept(anna.message("Northwind Ltd"))

    bot.restart()

    assert await bot.state_of(anna) == ("lead", "contact")
    await bot.deliver()
    assert anna.channel.texts_to("anna")[-1] == (
        "How can our sales rep reach you? Please send an email address or a phone number."
    )
    [question] = await anna.say("anna@northwind.example")
    assert question.startswith("Do you have a budget and a date in mind?")
    await anna.press("lead:skip")
    await anna.press("lead:confirm")
    [lead] = await bot.leads()
    assert (lead.name, lead.company, lead.email) == (
        "Anna Petrova",
        "Northwind Ltd",
        "anna@northwind.example",
    )


async def _complete_lead(anna: Customer, first_message: InboundMessage) -> None:
    await anna.send(first_message)
    for answer in ("Anna Petrova", "anna@northwind.example", "Northwind Ltd"):
        await anna.say(answer)
    await anna.press("lead:skip")
    await anna.press("lead:confirm")


async def _accept_in_turn(
    dispatcher: Dispatcher, messages: list[InboundMessage]
) -> list[AcceptResult]:
    return [await dispatcher.accept(message) for message in messages]
