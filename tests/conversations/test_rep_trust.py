"""Nobody acts as a rep without a secret the rep received.

Each test performs an attack first (a mail with a forged From, a claim by a rep nobody offered
the hand-off to) and shows that it fails; then the rep's own way works.
"""

from __future__ import annotations

from bot.model import OutboundMessage
from tests.conversations.test_rep_handoff import add_rep, last_to
from tests.harness import BotHarness, Customer

BORIS = "boris@shop.example"
FORGER = "forger-1"


async def token_of(bot: BotHarness, rep_id: int) -> str:
    async with bot.database.transaction() as uow:
        token = await uow.reps.reply_token_of(rep_id)
    assert token
    return token


async def boris_holds_ann(bot: BotHarness) -> tuple[Customer, Customer, OutboundMessage]:
    """Boris (by email) has claimed Ann's hand-off by replying to the card."""
    await add_rep(bot, "Boris", email=BORIS)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    boris = bot.customer(BORIS, channel="email")
    await ann.say("/human")
    card = last_to(boris)
    await boris.say("Hello Ann, Boris here.", in_reply_to=card.header_id, header_id="<b1@shop>")
    assert ann.channel.texts_to("1001")[-1] == "Hello Ann, Boris here."
    return ann, boris, card


async def handoff_state(bot: BotHarness) -> tuple[str, int | None]:
    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
    return handoff.status, handoff.rep_id


async def test_a_forged_from_cannot_answer_close_or_take_a_rep_off_duty(bot: BotHarness) -> None:
    ann, boris, _ = await boris_holds_ann(bot)
    heard = len(ann.channel.texts_to("1001"))

    # Mails with Boris's address in From, but neither his secret address nor an answer to
    # any mail we sent him: anybody can write those.
    for text in (
        "Please pay the invoice to IBAN XX00 1234",
        "/r 1 Please pay the invoice to IBAN XX00 1234",
        "/close 1",
        "/offline",
    ):
        await boris.say(text, header_id=f"<forged-{len(text)}@evil.example>")

    assert ann.channel.texts_to("1001")[heard:] == []  # nothing relayed, nothing closed
    assert await handoff_state(bot) == ("claimed", 1)
    async with bot.database.transaction() as uow:
        assert [rep.name for rep in await uow.reps.on_duty()] == ["Boris"]
        rep_messages = await uow.touchpoints.search(kind="rep_message")
        as_customer = await uow.touchpoints.search(kind="message_in")
    assert len(rep_messages) == 1  # only the real answer to the card
    assert {t.channel for t in as_customer if t.details["text"].startswith("/close")} == {"email"}


async def test_a_rep_acts_by_mail_to_the_secret_reply_address(bot: BotHarness) -> None:
    ann, boris, _ = await boris_holds_ann(bot)
    token = await token_of(bot, 1)

    await boris.say("/r 1 Your chairs ship on Monday.", reply_token=token)
    await boris.say("/offline", reply_token=token)

    assert ann.channel.texts_to("1001")[-1] == "Your chairs ship on Monday."
    async with bot.database.transaction() as uow:
        assert await uow.reps.on_duty() == []


async def test_mail_to_the_rep_carries_the_secret_reply_address_and_a_new_one_retires_it(
    bot: BotHarness,
) -> None:
    _, boris, card = await boris_holds_ann(bot)
    old = await token_of(bot, 1)
    assert card.reply_token == old
    assert last_to(boris).reply_token == old  # the confirmation of the claim too

    async with bot.database.transaction() as uow:
        assert await uow.reps.rotate_reply_token(1)
        await uow.commit()
    assert await token_of(bot, 1) != old

    # The old token, perhaps leaked with a forwarded mail, no longer makes a mail Boris's.
    await boris.say("/offline", reply_token=old, header_id="<leaked@evil.example>")
    async with bot.database.transaction() as uow:
        assert [rep.name for rep in await uow.reps.on_duty()] == ["Boris"]


async def test_an_answer_to_a_mail_we_sent_someone_else_is_no_proof(bot: BotHarness) -> None:
    ann, boris, _ = await boris_holds_ann(bot)
    kim = bot.customer("kim@initech.example", channel="email")
    await kim.say("Hello, I need a quote", header_id="<k1@initech.example>")
    ours_to_kim = last_to(kim)
    heard = len(ann.channel.texts_to("1001"))

    await boris.say("/r 1 pay here", in_reply_to=ours_to_kim.header_id)

    assert ann.channel.texts_to("1001")[heard:] == []


async def test_a_rep_nobody_offered_the_hand_off_cannot_claim_it(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram="4242")
    await add_rep(bot, "Boris", telegram="4343", on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer("4242", channel="telegram")
    boris = bot.customer("4343", channel="telegram")
    await ann.say("/human")
    assert last_to(olga).options[0].data == "claim:1"  # offered to Olga

    assert await boris.press("claim:1") == [
        "Conversation #1 is not assigned to you. A manager can reassign it."
    ]
    assert await handoff_state(bot) == ("offered", 1)

    assert (await olga.press("claim:1"))[0].startswith("Conversation #1 is yours.")
    assert await handoff_state(bot) == ("claimed", 1)


async def test_a_manager_may_claim_what_was_offered_to_a_rep(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram="4242")
    await add_rep(bot, "Mira", telegram="4444", role="manager", on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    mira = bot.customer("4444", channel="telegram")
    await ann.say("/human")

    assert (await mira.press("claim:1"))[0].startswith("Conversation #1 is yours.")
    assert await handoff_state(bot) == ("claimed", 2)
