"""One person, two Telegram accounts: a verified phone joins the two contacts, as transcripts."""

from __future__ import annotations

from bot.records import TouchpointRow
from tests.harness import BotHarness, Customer

PHONE = "+49 30 901820"
BROKEN = "My coffee machine arrived broken, the water tank is cracked"
OPEN_TICKET = (
    "Your open requests:\nRequest #1001 (repair): open, last updated 2026-03-02 09:00 UTC."
)


async def timeline(bot: BotHarness, contact_id: int) -> list[TouchpointRow]:
    async with bot.database.transaction() as uow:
        found = await uow.touchpoints.search(contact_id=contact_id, limit=1000)
    return [touchpoint for touchpoint in found if touchpoint.kind != "delivered"]


async def contact_of(bot: BotHarness, customer: Customer) -> int | None:
    async with bot.database.transaction() as uow:
        return await uow.contacts.owner_of(customer.address.channel, customer.address.value)


async def ann_on_two_accounts(bot: BotHarness) -> tuple[Customer, Customer]:
    """Ann shared her phone and opened a ticket from her old account; her new account, a
    contact of its own, greets the bot and then shares the same (verified) phone."""
    old = bot.customer("1001", channel="telegram", name="Ann Lee")
    await old.say("", shared_phone=PHONE)
    await old.say(BROKEN)
    new = bot.customer("2002", channel="telegram", name="Ann Lee")
    await new.say("hello")
    assert await contact_of(bot, new) == 2
    bot.clock.advance(minutes=5)
    await new.say("", shared_phone=PHONE)
    return old, new


async def test_a_verified_phone_shared_from_a_second_account_merges_the_contacts(
    bot: BotHarness,
) -> None:
    _, new = await ann_on_two_accounts(bot)

    assert await new.say("/status") == [OPEN_TICKET]  # the old account's ticket is hers
    assert await contact_of(bot, new) == 1
    events = await timeline(bot, 1)
    [merged] = [t for t in events if t.kind == "contacts_merged"]
    assert (merged.actor, merged.contact_id, merged.details) == (
        "system", 1,
        {"merge_id": 1, "from_contact_id": 2, "into_contact_id": 1, "phone": "+4930901820",
         "moved": {"identities": 1, "conversations": 1, "leads": 0, "service_requests": 0,
                   "handoffs": 0}},
    )  # fmt: skip
    # The new account's greeting is still contact 2's touchpoint, and on Ann's timeline in
    # time order, before the merge.
    hello = next(t for t in events if t.details.get("text") == "hello")
    assert hello.contact_id == 2
    assert events.index(hello) < events.index(merged)
    assert [t.occurred_at for t in events] == sorted(t.occurred_at for t in events)
    assert [t.kind for t in await timeline(bot, 2)] == ["message_in", "message_out", "message_out"]
