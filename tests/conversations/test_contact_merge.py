"""One person, two Telegram accounts: a verified phone joins the two contacts, and an operator
can separate them again, as transcripts."""

from __future__ import annotations

import pytest

from bot.records import TouchpointRow
from handlers.identity import CannotUnmerge, unmerge
from tests.harness import BotHarness, Customer

PHONE = "+49 30 901820"
BROKEN = "My coffee machine arrived broken, the water tank is cracked"
OPEN_TICKET = "Your open requests:\nRequest #1001 (delivery problem): open, last updated 2026-03-02 09:00 UTC."
NONE_OPEN = "You have no open requests. Describe the issue and I'll open one."


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


async def undo(bot: BotHarness, merge_id: int) -> bool:
    """What `touchpoint contacts unmerge` does: an operator's turn through the dispatcher."""
    return await bot.dispatcher.contact_turn(
        lambda ctx, now: unmerge(ctx, merge_id, now), channel="cli"
    )


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


async def test_an_operator_separates_them_and_the_proof_does_not_join_them_again(
    bot: BotHarness,
) -> None:
    old, new = await ann_on_two_accounts(bot)
    bot.clock.advance(hours=1)

    assert await undo(bot, 1)

    assert await contact_of(bot, new) == 2
    assert await new.say("/status") == [NONE_OPEN]
    assert (await old.say("/status")) == [OPEN_TICKET]
    for contact_id in (1, 2):
        [unmerged] = [t for t in await timeline(bot, contact_id) if t.kind == "contacts_unmerged"]
        assert (unmerged.actor, unmerged.channel, unmerged.conversation_id) == (
            "operator",
            "cli",
            None,
        )
        assert unmerged.details["merge_id"] == 1
    assert "contacts_merged" not in [t.kind for t in await timeline(bot, 2)]

    await new.say("", shared_phone=PHONE)  # the operator's decision stands

    assert await contact_of(bot, new) == 2
    assert [t.kind for t in await timeline(bot, 2)][-3:] == [
        "message_in", "identity_conflict", "message_out",
    ]  # fmt: skip


async def test_undoing_a_merge_twice_says_so_and_changes_nothing(bot: BotHarness) -> None:
    await ann_on_two_accounts(bot)
    assert await undo(bot, 1)
    before = [await timeline(bot, 1), await timeline(bot, 2)]

    with pytest.raises(CannotUnmerge, match="merge 1 was already undone at 2026-03-02 09:05"):
        await undo(bot, 1)
    with pytest.raises(CannotUnmerge, match="merge 7 not found"):
        await undo(bot, 7)

    assert [await timeline(bot, 1), await timeline(bot, 2)] == before


async def test_a_merge_whose_contact_was_merged_on_is_undone_after_the_later_one(
    bot: BotHarness,
) -> None:
    await ann_on_two_accounts(bot)  # merge 1: contact 2 into 1
    third = bot.customer("3003", channel="telegram", name="Ann Lee")
    await third.say("", shared_phone="+44 20 7946 0958")  # contact 3 has another phone
    old = bot.customer("1001", channel="telegram")
    await old.say("", shared_phone="+44 20 7946 0958")  # merge 2: contact 1 into 3

    with pytest.raises(
        CannotUnmerge, match=r"contact 1 was merged into contact 3 since \(merge 2\)"
    ):
        await undo(bot, 1)
    assert await undo(bot, 2)
    assert await undo(bot, 1)

    assert [
        await contact_of(bot, bot.customer(a, channel="telegram")) for a in ("1001", "2002", "3003")
    ] == [1, 2, 3]
