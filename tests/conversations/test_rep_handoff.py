"""The rep side of a hand-off, as transcripts: card, claim, relay both ways, end."""

from __future__ import annotations

from bot.bootstrap import build_services
from bot.model import Address, OutboundMessage, utc_now
from bot.settings import Settings
from storage.uow import Database
from tests.harness import BotHarness, Customer, FakeClock

OLGA_TELEGRAM = "4242"
BORIS_TELEGRAM = "4343"


async def add_rep(
    bot: BotHarness, name: str, *, telegram: str | None = None, email: str | None = None,
    languages: tuple[str, ...] = ("en", "ru"), role: str = "rep", on_duty: bool = True,
) -> int:  # fmt: skip
    async with bot.database.transaction() as uow:
        given = (("telegram", telegram), ("email", email))
        rep_id = await uow.reps.add(
            name=name, languages=languages,
            identities=[Address(channel, value) for channel, value in given if value],
            role=role, capacity=3, now=utc_now(),
        )  # fmt: skip
        await uow.reps.update(rep_id, on_duty=on_duty)
        await uow.commit()
    return rep_id


def last_to(customer: Customer) -> OutboundMessage:
    return [m for m in customer.channel.sent if m.address.value == customer.address.value][-1]


def key_of(customer: Customer, message: OutboundMessage) -> str:
    """The channel's id of a message we sent (the fake channel numbers them in order)."""
    return f"sent-{customer.channel.sent.index(message)}"


async def kinds_of_conversation(bot: BotHarness, conversation_id: int) -> list[str]:
    async with bot.database.transaction() as uow:
        return [t.kind for t in await uow.touchpoints.search(conversation_id=conversation_id)]


async def test_customer_and_rep_on_telegram_from_request_to_close(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann Lee")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram", name="Olga")
    await ann.say("I'd like a quote for 40 standing desks for our Berlin office")

    assert await ann.say("I want to talk to a human") == [
        "I'm passing your conversation to a person from our team. They will answer right here; "
        "anything you write meanwhile is kept for them. /cancel brings you back to me."
    ]
    card = last_to(olga)
    assert card.text.startswith(
        "New conversation #1 for you\nAnn Lee · telegram · en\nWhy: the customer asked for a person"
    )
    assert "customer: I'd like a quote for 40 standing desks" in card.text
    assert [o.data for o in card.options] == ["claim:1"]

    assert await olga.press("claim:1") == [
        "Conversation #1 is yours. Reply to the customer's messages here, or /r 1 text. "
        "/close 1 when done, /return 1 to give it back to the bot."
    ]
    assert (
        ann.channel.texts_to("1001")[-1]
        == "Olga from our team has joined and will answer you here."
    )

    assert await ann.say("Can you deliver by Friday?") == []  # the bot says nothing of its own
    relayed = last_to(olga)
    assert relayed.text == "#1 Ann Lee: Can you deliver by Friday?"

    await olga.say(
        "Yes, Friday works. I'll send the offer today.", in_reply_to=key_of(olga, relayed)
    )
    assert ann.channel.texts_to("1001")[-1] == "Yes, Friday works. I'll send the offer today."
    await ann.say("Great, thanks!")
    await olga.say("/r 1 You're welcome!")
    assert ann.channel.texts_to("1001")[-1] == "You're welcome!"

    assert await olga.say("/close 1") == ["Conversation #1 is closed; the customer was told."]
    closed_text, asked = ann.channel.texts_to("1001")[-2:]
    assert closed_text.startswith("Our team has closed this conversation.")
    assert asked.startswith("How satisfied are you with the help you got from our team?")
    # "thanks" is no rating: read as usual, and the question is not asked again
    assert (await ann.say("thanks"))[0] == "You're welcome! Write any time."  # the bot is back

    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
    kinds = await kinds_of_conversation(bot, handoff.conversation_id)
    order = [
        k
        for k in kinds
        if k
        in (
            "handoff_requested",
            "rep_notified",
            "rep_claimed",
            "customer_replied",
            "rep_replied",
            "closed",
        )
    ]
    assert order == [
        "handoff_requested", "rep_notified", "rep_claimed", "customer_replied", "rep_replied",
        "customer_replied", "rep_replied", "closed",
    ]  # fmt: skip
    assert handoff.status == "closed" and handoff.first_answer_at is not None
    async with bot.database.transaction() as uow:
        [closed] = await uow.touchpoints.search(kind="closed")
    assert closed.actor == "rep"  # from the rep's chat (`touchpoint handoffs close`: operator)


async def test_customer_on_email_with_a_rep_on_telegram(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    kim = bot.customer("kim@initech.example", channel="email")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await kim.say(
        "Please, I need to speak to a real person about my contract",
        header_id="<k1@mail>",
        external_id="<k1@mail>",  # a mail's key is its Message-ID
        subject="Contract",
    )
    await olga.press("claim:1")

    await olga.say("/r 1 Hello Kim, Olga here. What about the contract?")

    answer = last_to(kim)
    assert answer.text == "Hello Kim, Olga here. What about the contract?"
    assert (
        answer.in_reply_to == "<k1@mail>" and answer.subject == "Contract"
    )  # the customer's thread


async def test_customer_on_telegram_with_a_rep_on_email_who_claims_by_replying(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Boris", email="boris@shop.example")
    ann = bot.customer("1001", channel="telegram", name="Ann")
    boris = bot.customer("boris@shop.example", channel="email")
    await ann.say("/human")
    card = last_to(boris)
    assert card.subject == "[#1] Ann" and card.header_id

    await boris.say(
        "Hi Ann, Boris here. How can I help?", in_reply_to=card.header_id, header_id="<b1@shop>"
    )

    assert ann.channel.texts_to("1001")[-2:] == [
        "Boris from our team has joined and will answer you here.",
        "Hi Ann, Boris here. How can I help?",
    ]
    await ann.say("I need 3 more chairs")
    assert last_to(boris).text == "#1 Ann: I need 3 more chairs"


async def test_two_reps_claim_at_the_same_moment_one_wins_the_other_is_told(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM, role="manager")
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    boris = bot.customer(BORIS_TELEGRAM, channel="telegram")
    await ann.say("/human")

    first = olga.message(button="claim:1")
    second = boris.message(button="claim:1")
    await bot.dispatcher.accept(first), await bot.dispatcher.accept(second)
    await bot.deliver()

    assert olga.channel.texts_to(OLGA_TELEGRAM)[-1].startswith("Conversation #1 is yours.")
    assert boris.channel.texts_to(BORIS_TELEGRAM)[-1] == "Conversation #1 was taken by Olga."
    async with bot.database.transaction() as uow:
        [handoff] = await uow.handoffs.search()
    assert (handoff.status, handoff.rep_id) == ("claimed", 1)


async def test_an_unclaimed_offer_moves_on_then_to_the_managers_and_survives_a_restart(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM)
    await add_rep(bot, "Mia", telegram="4444", role="manager", on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")
    first = "Olga" if bot.channels["telegram"].texts_to(OLGA_TELEGRAM) else "Boris"

    bot.restart()  # a new process: the deadline is a row, not a timer in memory
    bot.clock.advance(minutes=3)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    second = "Boris" if first == "Olga" else "Olga"
    assert (
        bot.channels["telegram"]
        .texts_to(BORIS_TELEGRAM if second == "Boris" else OLGA_TELEGRAM)[-1]
        .startswith("New conversation #1")
    )

    bot.clock.advance(minutes=3)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    assert (
        bot.channels["telegram"].texts_to("4444")[-1].startswith("New conversation #1")
    )  # the manager
    assert await bot.scheduler.fire_due() == 0  # fired once each
    kinds = await bot.kinds()
    assert kinds.count("claim_expired") == 2 and kinds.count("escalated") == 1


async def test_nobody_on_duty_the_hand_off_waits_and_goes_to_the_first_rep_online(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")

    assert (await ann.say("/human"))[0].startswith(
        "I'm passing your conversation to our team. Nobody is free"
    )
    assert "handoff_queued" in await bot.kinds()

    replies = await olga.say("/online")
    assert replies[0] == "You are online. Waiting conversations offered to you: 1."
    assert replies[1].startswith("New conversation #1 for you")


async def test_a_customer_cannot_use_rep_commands_and_a_rep_cannot_answer_anothers(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    zed = bot.customer("1002", channel="telegram", name="Zed")
    await ann.say("/human")
    holder = OLGA_TELEGRAM if bot.channels["telegram"].texts_to(OLGA_TELEGRAM) else BORIS_TELEGRAM
    other = BORIS_TELEGRAM if holder == OLGA_TELEGRAM else OLGA_TELEGRAM
    await bot.customer(holder, channel="telegram").press("claim:1")

    assert (await zed.say("/r 1 give me Ann's phone"))[0] == "I don't know that command."
    assert (await zed.say("/online"))[0] == "I don't know that command."
    assert await bot.customer(other, channel="telegram").say("/r 1 hello") == [
        "Conversation #1 is not assigned to you. A manager can reassign it."
    ]
    assert "hello" not in ann.channel.texts_to("1001")


async def test_photos_edits_and_buttons_during_a_hand_off_get_no_bot_reply(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("/human")
    await olga.press("claim:1")
    said = len(ann.channel.texts_to("1001"))

    original = ann.message("the box")
    await ann.send(original)
    await ann.attach("photo")
    await ann.press("menu:lead")
    await ann.send(ann.message("the box was wet", edit_of=original.external_id))

    assert len(ann.channel.texts_to("1001")) == said
    relayed = [m.text for m in olga.channel.sent if m.address.value == OLGA_TELEGRAM][-3:]
    assert relayed == [
        "#1 Ann: the box",
        "#1 Ann: [photo: file.photo]",
        "#1 Ann: [button: menu:lead]",
    ]


async def test_a_silent_hand_off_returns_to_the_bot(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("claim:1")

    bot.clock.advance(hours=1, minutes=1)
    await bot.scheduler.fire_due()
    await bot.deliver()

    assert ann.channel.texts_to("1001")[-1] == "You're back with the assistant. How can I help?"
    assert (
        bot.channels["telegram"].texts_to(OLGA_TELEGRAM)[-1]
        == "Conversation #1 went back to the bot after a long silence."
    )
    async with bot.database.transaction() as uow:
        [returned] = await uow.touchpoints.search(kind="returned_to_bot")
    assert returned.actor == "system"  # the silence ended it, not the rep


async def test_the_same_rep_again_when_the_customer_comes_back_soon(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    await add_rep(bot, "Boris", telegram=BORIS_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")
    holder = OLGA_TELEGRAM if bot.channels["telegram"].texts_to(OLGA_TELEGRAM) else BORIS_TELEGRAM
    rep = bot.customer(holder, channel="telegram")
    await rep.press("claim:1")
    await rep.say("/close 1")

    bot.clock.advance(hours=5)
    await ann.say("/human")
    # Within HANDOFF_SAME_REP_HOURS (72 h by default) the same rep is offered it again.
    assert bot.channels["telegram"].texts_to(holder)[-1].startswith("New conversation #2 for you")


# --- the bot hands over by itself --------------------------------------------------------------


async def requested_details(bot: BotHarness) -> dict[str, object]:
    async with bot.database.transaction() as uow:
        [requested] = await uow.touchpoints.search(kind="handoff_requested")
    return requested.details


async def test_an_angry_customer_goes_to_a_person_at_once(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")

    assert await ann.say("This is the WORST service ever, you people are scammers!!!") == [
        "I'm sorry about this. I'm passing your conversation to a person from our team right "
        "now; they will answer right here."
    ]
    card = last_to(bot.customer(OLGA_TELEGRAM, channel="telegram"))
    assert "Why: the customer sounds angry" in card.text
    details = await requested_details(bot)
    assert details["reason"] == "angry_customer"
    assert details["signals"] == ["strong:scam", "word:worst", "!!!"]


async def test_an_angry_russian_customer_in_the_middle_of_a_form_too(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    await ivan.say("Хочу купить 5 кофемашин для офиса")
    assert await ivan.say("Вы мошенники, это обман!") == [
        "Сожалею, что так вышло. Сейчас же передаю ваш разговор сотруднику — он ответит прямо здесь."
    ]


async def test_a_complaint_without_anger_gets_a_ticket_not_a_person(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    kim = bot.customer("3003", channel="telegram", name="Kim")
    replies = await kim.say("My order 5531 arrived damaged, the armrest is broken. Terrible.")
    assert replies[0].startswith("Your request #1001 is open.")
    assert "handoff_requested" not in await bot.kinds()


async def test_a_hot_lead_is_saved_then_handed_to_a_sales_rep(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    anna = bot.customer("4004", channel="telegram", name="Anna")
    await anna.say("Hi, I'd like a quote for 40 standing desks for our new office in Berlin")
    await anna.say("Anna Petrova")
    await anna.say("Northwind Ltd")
    await anna.say("anna@northwind.example, +49 30 901820")
    await anna.say("about 20000 EUR")
    await anna.say("ASAP")
    assert await anna.press("lead:confirm") == [
        "Thank you, Anna Petrova! Your request No. 1 is with our sales team. A sales rep will "
        "contact you within 1 hour.",
        "A sales rep will take it from here and write to you right here shortly.",
    ]
    [lead] = await bot.leads()
    assert lead.score >= 80
    card = last_to(bot.customer(OLGA_TELEGRAM, channel="telegram"))
    assert "Why: a hot lead: answers worth a call" in card.text
    assert "Lead: " in card.text and "Northwind Ltd" in card.text
    assert (await requested_details(bot))["score"] == lead.score
    assert await anna.say("Can you deliver to Berlin?") == []  # with the team now


async def test_a_lukewarm_lead_stays_with_the_bot(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    bob = bot.customer("5005", channel="telegram", name="Bob")
    await bob.say("I want to buy 3 licences of your software for my team")
    await bob.say("Bob")
    await bob.press("lead:skip")
    await bob.say("bob@example.com")
    await bob.press("lead:skip")
    await bob.press("lead:skip")
    assert len(await bob.press("lead:confirm")) == 1
    assert "handoff_requested" not in await bot.kinds()


async def test_asking_for_a_person_with_an_open_ticket_escalates_it(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    kim = bot.customer("3003", channel="telegram", name="Kim")
    await kim.say("My order 5531 arrived damaged, the armrest of the chair is broken.")
    await kim.say("I want to talk to a human")
    card = last_to(bot.customer(OLGA_TELEGRAM, channel="telegram"))
    assert "Why: the customer escalates their open request" in card.text
    assert "#1001" in card.text  # the ticket is on the card
    assert (await requested_details(bot))["reason"] == "ticket_escalated"


async def test_a_burst_from_the_customer_reaches_the_rep_capped_then_as_one_digest(
    database: Database, clock: FakeClock
) -> None:
    # Every customer message used to go to the rep at once: 200 in, 200 out. (No flood limit
    # here: what is held back from a flooding sender is another test's subject.)
    bot = BotHarness(
        database, clock, build_services(Settings(_env_file=None, flood_limit=0, timezone="UTC"))
    )
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("/human")
    await olga.press("claim:1")
    before = len(olga.channel.texts_to(OLGA_TELEGRAM))

    for number in range(1, 21):
        assert await ann.say(f"detail {number}") == []
    relayed = olga.channel.texts_to(OLGA_TELEGRAM)[before:]
    # Six relays a minute, the card and the claim's confirmation among them.
    assert relayed == [f"#1 Ann: detail {number}" for number in range(1, 5)]

    bot.clock.advance(seconds=61)
    await bot.scheduler.fire_due()
    await bot.deliver()
    [digest] = olga.channel.texts_to(OLGA_TELEGRAM)[before + 4 :]
    assert digest.startswith("#1 Ann: 16 more messages, held back so as not to flood you:\n")
    assert digest.endswith("\n".join(f"- detail {number}" for number in range(5, 21)))
    kinds = await bot.kinds()
    assert kinds.count("relay_digest") == 1
    assert kinds.count("customer_replied") == 20
