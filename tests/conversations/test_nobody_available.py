"""Nobody is ever left in silence, as transcripts: a fresh install with no rep at all, a
hand-off waiting for a rep who is off duty, a rep who has the conversation, and a lead saved
while nobody can be told about it."""

from __future__ import annotations

from bot.records import Handoff, Ticket
from tests.conversations.test_handoff import HELP, MENU, QUEUED, QUEUED_RU, STILL_WAITING
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep, last_to
from tests.harness import BotHarness, Customer

NOBODY = (
    "Nobody from our team is available right now, so I can't put you through to a person. "
    "If you like, write your message here and I'll pass it on to the team. "
    "Or /cancel to carry on with me."
)
NOBODY_RU = (
    "Сейчас никого из команды нет на связи, поэтому соединить вас с сотрудником я не могу. "
    "Если хотите, напишите сообщение здесь, и я передам его команде. "
    "Или /cancel, чтобы продолжить со мной."
)
NOBODY_AFTER_MISSES = (
    "I'm sorry I couldn't help. Nobody from our team is available right now to take over. "
    "If you like, write your message here and I'll pass it on to the team. "
    "Or /cancel to carry on with me."
)
PASSED_ON = (
    "I've passed this on to our team: it's saved with your request #{number}. "
    "They will see it as soon as someone is available. Anything else I can help with?"
)
PASSED_ON_RU = (
    "Передал ваше сообщение команде: оно сохранено в заявке #{number}. "
    "Его увидят, как только кто-то будет на связи. Чем ещё могу помочь?"
)
HELP_RU = (
    "Вот что я умею:\n- подготовить предложение или расчёт стоимости (напишите, что вам нужно)\n"
    "- принять заявку по заказу или проблеме и подсказать её статус («статус #1042»)\n"
    "- связать вас с сотрудником (/human)\nЛюбой вопрос можно прервать командой /cancel."
)
STILL_WAITING_RU = (
    "Вы ждёте сотрудника нашей команды; всё, что вы здесь напишете, сохранится для него. "
    "/cancel — перестать ждать и вернуться ко мне."
)
WAIT_CANCELLED = (
    "Done: you're no longer waiting for a person, and you're back with the assistant. "
    "How can I help?"
)
WAIT_CANCELLED_RU = (
    "Готово: вы больше не ждёте сотрудника и снова общаетесь с помощником. Чем могу помочь?"
)


async def handoffs(bot: BotHarness) -> list[Handoff]:
    async with bot.database.transaction() as uow:
        return await uow.handoffs.search()


async def contact_of(bot: BotHarness, customer: Customer) -> int:
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return contact_id


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    kinds = await bot.kinds(await contact_of(bot, customer))
    return [kind for kind in kinds if kind != "delivered"]


async def notes_of(bot: BotHarness, ticket: Ticket) -> list[tuple[str, str]]:
    async with bot.database.transaction() as uow:
        return [(author, text) for author, text, _ in await uow.tickets.notes(ticket.id)]


async def details_of(bot: BotHarness, kind: str) -> list[dict[str, object]]:
    async with bot.database.transaction() as uow:
        return [t.details for t in await uow.touchpoints.search(kind=kind)]


# --- a fresh install: no rep at all -----------------------------------------------------------


async def test_with_no_rep_asking_for_a_person_is_answered_honestly_and_the_message_passed_on(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")

    assert await alice.say("I want to talk to a person") == [NOBODY]
    assert alice.last_options() == ["cancel"]
    assert await handoffs(bot) == []  # no hand-off nobody could ever take
    assert await bot.state_of(alice) == ("message", None)

    assert await alice.say("Please call me back about the invoice, +44 20 7946 0958") == [
        PASSED_ON.format(number=1001)
    ]
    assert alice.last_options() == MENU
    [ticket] = await bot.tickets()
    assert (ticket.category, ticket.status) == ("message", "open")
    assert ticket.summary == "Please call me back about the invoice, +44 20 7946 0958"
    assert await notes_of(bot, ticket) == [
        ("customer", "Please call me back about the invoice, +44 20 7946 0958")
    ]
    assert await bot.state_of(alice) == ("idle", None)
    assert await kinds_of(bot, alice) == [
        "message_in",
        "nobody_available",
        "message_out",
        "message_in",
        "ticket_opened",
        "message_passed_on",
        "message_out",
    ]
    assert await details_of(bot, "nobody_available") == [{"reason": "customer_asked"}]
    assert await details_of(bot, "message_passed_on") == [{"ticket": 1001, "opened": True}]


async def test_with_no_rep_the_bot_keeps_answering_help_and_takes_a_lead_afterwards(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    await alice.say("Please ask someone to call me tomorrow")

    assert await alice.say("/help") == [HELP]
    assert alice.last_options() == MENU
    replies = await alice.say("I need a quote for 25 office chairs")
    assert replies[0] == (
        "Great, I'll prepare this for our sales team. A few short questions "
        "(you can /cancel at any time)."
    )
    assert await bot.state_of(alice) == ("lead", "name_contact")


async def test_with_no_rep_help_and_cancel_while_the_bot_waits_for_the_message(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:human")

    assert await alice.say("/help") == [HELP]
    assert await bot.state_of(alice) == ("idle", None)
    await alice.say("/human")
    assert await alice.say("/cancel") == ["Cancelled, nothing was saved."]
    assert alice.last_options() == MENU
    assert await bot.tickets() == []
    assert await bot.state_of(alice) == ("idle", None)
    assert await alice.say("/cancel") == ["There is nothing to cancel."]


async def test_with_no_rep_a_russian_message_is_passed_on_with_the_open_ticket(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")
    opened = await ivan.say("Мой заказ 5531 пришёл повреждённым, сломан подлокотник кресла")
    assert opened[0].startswith("Заявка #1001 открыта.")

    assert await ivan.say("Хочу поговорить с оператором") == [NOBODY_RU]
    assert await ivan.say("Перезвоните мне, пожалуйста, по поводу кресла") == [
        PASSED_ON_RU.format(number=1001)
    ]

    [ticket] = await bot.tickets()  # no second ticket: the message joins the open one
    assert ticket.category == "delivery"
    assert (await notes_of(bot, ticket))[-1] == (
        "customer",
        "Перезвоните мне, пожалуйста, по поводу кресла",
    )
    assert await details_of(bot, "nobody_available") == [{"reason": "ticket_escalated"}]
    assert await details_of(bot, "message_passed_on") == [{"ticket": 1001, "opened": False}]
    assert await ivan.say("/help") == [HELP_RU]


async def test_with_no_rep_three_misses_offer_to_pass_a_message_on_instead_of_silence(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.say("qwerty uiop")
    await alice.say("zxcv bnm")

    assert await alice.say("lorem ipsum dolor") == [NOBODY_AFTER_MISSES]
    assert await handoffs(bot) == []
    assert await alice.say("hello?") == [PASSED_ON.format(number=1001)]
    assert (await alice.say("hello"))[0].startswith("Hello! I'm the Touchpoint assistant.")


async def test_with_no_rep_a_thanks_declines_the_offer_and_a_photo_is_passed_on(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.say("/human")
    assert await alice.say("ok thanks") == ["You're welcome! Write any time."]
    assert await bot.state_of(alice) == ("idle", None)
    assert await bot.tickets() == []

    await alice.say("/human")
    assert await alice.attach("photo") == [PASSED_ON.format(number=1001)]
    [ticket] = await bot.tickets()
    assert await notes_of(bot, ticket) == [("customer", "[photo: file.photo]")]


async def test_a_rep_without_any_channel_counts_as_nobody(bot: BotHarness) -> None:
    await add_rep(bot, "Olga")  # registered, but there is no way to reach her
    alice = bot.customer("alice")

    assert await alice.say("/human") == [NOBODY]
    assert await handoffs(bot) == []


# --- reps exist, but nobody is free: the hand-off waits --------------------------------------


async def test_a_waiting_hand_off_says_so_truthfully_and_answers_help(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")

    assert await ann.say("/human") == [QUEUED]
    assert await ann.say("Is anybody there?") == []  # kept for the rep, as the bot said
    assert await ann.say("/help") == [HELP, STILL_WAITING]
    assert await ann.say("/human") == [STILL_WAITING]

    [waiting] = await handoffs(bot)
    assert waiting.status == "queued"
    assert await bot.state_of(ann) == ("handoff", None)


async def test_a_message_long_after_the_last_word_of_the_bot_is_answered(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")

    bot.clock.advance(minutes=20)
    assert await ann.say("Hello? Still waiting") == [STILL_WAITING]
    assert await ann.say("Anyone?") == []  # told a moment ago
    bot.clock.advance(minutes=20)
    assert await ann.say("Anyone at all?") == [STILL_WAITING]


async def test_cancel_ends_a_waiting_hand_off_and_the_bot_answers_again(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    await ann.say("/human")

    assert await ann.say("/cancel") == [WAIT_CANCELLED]
    assert ann.last_options() == MENU

    [cancelled] = await handoffs(bot)
    assert (cancelled.status, cancelled.closed_at) == ("cancelled", bot.clock.now)
    assert await bot.state_of(ann) == ("idle", None)
    assert (await kinds_of(bot, ann))[-3:] == ["message_in", "handoff_cancelled", "message_out"]
    async with bot.database.transaction() as uow:
        [touchpoint] = await uow.touchpoints.search(kind="handoff_cancelled")
    assert touchpoint.actor == "customer"
    assert touchpoint.details == {"handoff_id": cancelled.id, "was": "queued", "latency": 0.0}
    assert (await ann.say("thanks"))[0] == "You're welcome! Write any time."
    # A rep who comes online later is not offered what the customer withdrew.
    replies = await bot.customer(OLGA_TELEGRAM, channel="telegram").say("/online")
    assert replies == ["You are online. Waiting conversations offered to you: 0."]


async def test_a_russian_customer_cancels_a_waiting_hand_off_with_a_word(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    ivan = bot.customer("2002", channel="telegram", name="Иван")

    assert await ivan.say("Позовите оператора") == [QUEUED_RU]
    assert await ivan.say("/help") == [HELP_RU, STILL_WAITING_RU]
    assert await ivan.say("отмена") == [WAIT_CANCELLED_RU]
    [cancelled] = await handoffs(bot)
    assert cancelled.status == "cancelled"


async def test_cancel_withdraws_an_offered_hand_off_and_the_rep_is_told(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("/human")
    assert last_to(olga).text.startswith("New conversation #1 for you")

    assert await ann.say("/cancel") == [WAIT_CANCELLED]

    assert last_to(olga).text == (
        "Conversation #1: the customer went back to the bot; nothing more to do."
    )
    assert await olga.press("claim:1") == ["There is no open conversation #1."]
    bot.clock.advance(minutes=3)
    await bot.scheduler.fire_due()  # the claim deadline finds nothing to move on
    assert "claim_expired" not in await bot.kinds()


# --- a rep has the conversation ---------------------------------------------------------------


async def test_the_bot_stays_quiet_with_a_rep_but_cancel_still_ends_it(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    olga = bot.customer(OLGA_TELEGRAM, channel="telegram")
    await ann.say("/human")
    await olga.press("claim:1")

    assert await ann.say("/help") == []  # relayed to Olga, who answers
    assert last_to(olga).text == "#1 Ann: /help"
    assert await ann.say("stop") == []  # a word to a person is for the person
    assert last_to(olga).text == "#1 Ann: stop"

    assert await ann.say("/cancel") == [
        "Done: your conversation with Olga has ended, and you're back with the assistant. "
        "How can I help?"
    ]
    assert last_to(olga).text == (
        "Conversation #1: the customer went back to the bot; nothing more to do."
    )
    [cancelled] = await handoffs(bot)
    assert cancelled.status == "cancelled"
    assert (await ann.say("thanks"))[0] == "You're welcome! Write any time."


# --- a lead nobody can be told about ----------------------------------------------------------


async def say_a_lead(customer: Customer) -> list[str]:
    await customer.say("Hi, I'd like a quote for 40 standing desks for our new office in Berlin")
    await customer.say("Anna Petrova")
    await customer.say("Northwind Ltd")
    await customer.say("anna@northwind.example, +49 30 901820")
    await customer.say("about 20000 EUR")
    await customer.say("ASAP")
    return await customer.press("lead:confirm")


async def test_a_lead_saved_with_no_rep_waits_and_promises_no_rep(bot: BotHarness) -> None:
    anna = bot.customer("4004", channel="telegram", name="Anna")

    assert await say_a_lead(anna) == [
        "Thank you, Anna Petrova! Your request is saved. Nobody from our sales team is "
        "available right now, so it may take a while, but they will get back to you."
    ]

    [lead] = await bot.leads()
    assert (lead.status, lead.score >= 80) == ("waiting", True)  # a hot lead, nobody to tell
    assert await handoffs(bot) == []
    assert (await kinds_of(bot, anna))[-4:] == [
        "message_in",
        "lead_captured",
        "lead_waiting",
        "message_out",
    ]
    assert await details_of(bot, "lead_waiting") == [{"lead_id": lead.id}]


async def test_a_russian_lead_saved_with_no_rep_waits(bot: BotHarness) -> None:
    ivan = bot.customer("2002", channel="telegram", name="Иван")
    await ivan.say("Хочу купить 5 кофемашин для офиса")
    await ivan.say("Иван Петров")
    await ivan.press("lead:skip")
    await ivan.say("ivan@example.ru")
    await ivan.press("lead:skip")

    assert await ivan.press("lead:skip") != []
    assert await ivan.press("lead:confirm") == [
        "Спасибо, Иван Петров! Ваша заявка сохранена. Сейчас никого из отдела продаж нет на "
        "связи, поэтому ответ может занять время, но с вами обязательно свяжутся."
    ]
    [lead] = await bot.leads()
    assert lead.status == "waiting"


async def test_a_lead_saved_with_a_rep_registered_is_new(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    bob = bot.customer("5005", channel="telegram", name="Bob")
    await bob.say("I want to buy 3 licences of your software for my team")
    await bob.say("Bob")
    await bob.press("lead:skip")
    await bob.say("bob@example.com")
    await bob.press("lead:skip")
    await bob.press("lead:skip")

    # Olga is registered but not on duty: nobody has the card yet, and the customer is told so.
    assert await bob.press("lead:confirm") == [
        "Thank you, Bob! Your request No. 1 is with our sales team. Nobody from our sales team "
        "is online right now; a sales rep will contact you as soon as one is."
    ]
    [lead] = await bot.leads()
    assert lead.status == "new"
    assert "lead_waiting" not in await bot.kinds()
