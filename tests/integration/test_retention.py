"""What is kept and for how long: the daily pass forgets payloads past their time, and one
person can be forgotten on request; touchpoint rows stay for reports either way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, select

from bot.cli.contacts import forget
from bot.model import Address, InboundKind, InboundMessage, Outcome, Sender
from bot.retention import DailyPrune, Retention, prune
from bot.turn import ContactEvent
from storage.tables import dead_letters, messages, outbox
from tests.harness import BotHarness

DAMAGED = "My order 5531 arrived damaged, the screen is cracked and it does not turn on"
KEEP = Retention(
    raw_mail=timedelta(days=90), texts=timedelta(days=730), dead_letters=timedelta(days=30)
)


async def column(bot: BotHarness, selected: ColumnElement[Any]) -> list[Any]:
    query = select(selected)
    if selected.table is messages:
        query = query.where(messages.c.direction == "in")
    async with bot.database.transaction() as uow:
        return list((await uow.connection.execute(query)).scalars())


async def test_payloads_are_forgotten_after_their_time_and_touchpoints_stay(
    bot: BotHarness,
) -> None:
    kim = bot.customer("kim@initech.example", channel="email")
    await kim.say(DAMAGED, header_id="<k1@initech.example>", raw=b"From: kim\r\n\r\nold mail")
    async with bot.database.transaction() as uow:
        await uow.dead_letters.park(
            channel="email", external_id="x", error="broken", now=bot.clock(),
            payload={"uid": 1}, raw=b"raw bytes",
        )  # fmt: skip
        await uow.commit()
    before = await bot.kinds()

    bot.clock.advance(days=31)  # dead letters' payloads go first
    async with bot.database.transaction() as uow:
        await prune(uow, KEEP, bot.clock())
        await uow.commit()
    assert await column(bot, dead_letters.c.raw) == [None]
    assert await column(bot, messages.c.raw) == [b"From: kim\r\n\r\nold mail"]

    bot.clock.advance(days=60)  # then raw mail
    async with bot.database.transaction() as uow:
        await prune(uow, KEEP, bot.clock())
        await uow.commit()
    assert await column(bot, messages.c.raw) == [None]
    assert DAMAGED in await column(bot, messages.c.text)

    bot.clock.advance(days=700)  # then every text
    async with bot.database.transaction() as uow:
        pruned = await prune(uow, KEEP, bot.clock())
        await uow.commit()
    assert (pruned.message_texts, pruned.outbox_texts) == (2, 1)  # in and out, one mail
    assert set(await column(bot, messages.c.text)) == {""}
    assert set(await column(bot, outbox.c.text)) == {""}
    kinds = await bot.kinds()
    assert kinds[: len(before)] == before  # the timeline is whole
    assert kinds.count("pruned") == 3
    [ticket] = await bot.tickets()
    assert ticket.summary.startswith("My order 5531")  # records stay


async def test_the_daily_pass_runs_once_a_day(bot: BotHarness) -> None:
    daily = DailyPrune(bot.database, KEEP, bot.clock)
    assert await daily.run_if_due() is not None
    bot.clock.advance(hours=23)
    assert await daily.run_if_due() is None
    bot.clock.advance(hours=2)
    assert await daily.run_if_due() is not None
    assert (await bot.kinds()).count("pruned") == 2


async def test_a_forgotten_person_leaves_only_anonymous_counts(bot: BotHarness) -> None:
    ann = bot.customer("1001", channel="telegram", name="Ann Lee")
    await ann.say("I need a quote for 40 standing desks")
    for answer in ("Ann Lee", "ann@initech.example", "Initech"):
        await ann.say(answer)
    await ann.press("lead:skip")
    await ann.press("lead:skip")
    await ann.press("lead:confirm")
    await ann.say(DAMAGED)
    kinds = await bot.kinds()

    async with bot.database.transaction() as uow:
        events = await forget(bot.services.context(uow), 1)
        await uow.commit()
    assert events is not None and [type(e) for e in events] == [ContactEvent]

    async with bot.database.transaction() as uow:
        contact = await uow.contacts.get(1)
        identities = await uow.contacts.identities(1)
        [lead] = await uow.leads.search()
        [ticket] = await uow.tickets.search()
        timeline = await uow.touchpoints.search(contact_id=1, limit=1000)
    assert contact is not None and contact.display_name == "(forgotten)"
    assert identities == []
    assert (lead.name, lead.email, lead.need) == (None, None, "")
    assert ticket.summary == ""
    assert set(await column(bot, messages.c.text)) == {""}
    assert [t.kind for t in timeline] == kinds  # counts stay, without a word of theirs
    assert all(t.details == {} for t in timeline)

    # Ann writes again: a new contact, nothing of the old one.
    await ann.say("hello")
    async with bot.database.transaction() as uow:
        assert await uow.contacts.owner_of("telegram", "1001") == 2


async def test_forgetting_a_person_erases_what_was_parked_of_theirs(bot: BotHarness) -> None:
    """A message the bot could not handle is parked with whom it came from; forgetting that
    person deletes it, and someone else's parked message stays."""
    for chat, name in (("1001", "Ann Lee"), ("1002", "Bob Roe")):
        await bot.customer(chat, channel="telegram", name=name).say("hello")
        parked = InboundMessage(
            external_id=f"broken-{chat}",
            address=Address("telegram", chat),
            sender=Sender(chat, name),
            payload={"text": f"my card number, from {name}"},
            kind=InboundKind.UNREADABLE,
            reason="the update could not be read",
        )
        assert (await bot.dispatcher.accept(parked)).outcome is Outcome.PARKED
    assert sorted(await column(bot, dead_letters.c.address)) == ["1001", "1002"]

    async with bot.database.transaction() as uow:
        ann = await uow.contacts.owner_of("telegram", "1001")
        assert ann is not None and await forget(bot.services.context(uow), ann) is not None
        await uow.commit()

    assert await column(bot, dead_letters.c.address) == ["1002"]
    assert await column(bot, dead_letters.c.payload) == [{"text": "my card number, from Bob Roe"}]
