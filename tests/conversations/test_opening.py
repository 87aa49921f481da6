"""A terminal opens its conversation before the customer types: the bot speaks first, and a
conversation left in the middle of a flow goes on with the question it was waiting on."""

from __future__ import annotations

from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness, Customer

GREETING = "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an existing order or request, or put you in touch with a person from our team."
GREETING_AGAIN = "Hello again! How can I help? (/help shows what I can do.)"
RESUME = "Let's continue where we stopped."
ASK_NAME = "Who should our sales rep contact? Please write your name and an email address or a phone number."
ASK_DETAILS = "I'll open a service request. Please describe the issue in a message: what happened, and an order or invoice number if you have one."


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def test_a_newcomer_is_greeted_before_typing_anything(bot: BotHarness) -> None:
    anna = bot.customer("anna")

    assert await anna.open() == [GREETING, "What would you like to do?"]

    assert anna.last_options() == ["menu:lead", "menu:service", "menu:status", "menu:human"]
    assert await kinds_of(bot, anna) == ["conversation_opened", "message_out", "message_out"]
    async with bot.database.transaction() as uow:
        conversation = await uow.conversations.find("console", "anna")
        assert conversation is not None
        stored = await uow.messages.recent(conversation.id, 10)
    assert [direction for direction, _ in stored] == ["out", "out"]  # nothing typed, none in
    assert await anna.say("1") == [
        "Great, I'll prepare this for our sales team. A few short questions (you can /cancel at any time).",
        "What are you looking for? A product, a service, quantities — a sentence or two is enough.",
    ]


async def test_a_greeted_customer_opening_again_gets_a_short_hello(bot: BotHarness) -> None:
    anna = bot.customer("anna")
    await anna.open()

    bot.restart()
    assert await anna.open() == [GREETING_AGAIN]


async def test_a_lead_left_unfinished_asks_its_pending_question_on_opening(
    bot: BotHarness,
) -> None:
    anna = bot.customer("anna")
    await anna.open()
    await anna.say("I need a quote for 25 office chairs")  # the bot asks for the name

    bot.restart()
    assert await anna.open() == [RESUME, ASK_NAME]
    assert await anna.say("Anna Petrova") == [
        "How can our sales rep reach you? Please send an email address or a phone number."
    ]


async def test_a_service_request_left_undescribed_asks_again_on_opening(bot: BotHarness) -> None:
    anna = bot.customer("anna")
    await anna.open()
    assert await anna.press("menu:service") == [ASK_DETAILS]

    bot.restart()
    assert await anna.open() == [RESUME, ASK_DETAILS]
    assert await bot.state_of(anna) == ("service", "describe")


async def test_opening_a_conversation_a_person_has_says_nothing(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    anna = bot.customer("anna")
    await anna.open()
    await anna.say("/human")
    await bot.customer(OLGA_TELEGRAM, channel="telegram").press("claim:1")

    assert await anna.open() == []
    assert await bot.state_of(anna) == ("handoff", None)


async def test_opening_a_conversation_that_waits_for_a_person_says_so(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM, on_duty=False)
    anna = bot.customer("anna")
    await anna.open()
    await anna.say("/human")

    assert await anna.open() == [
        "You're waiting for a person from our team; what you write here is kept for them. "
        "/cancel stops waiting and brings you back to me."
    ]
    assert await bot.state_of(anna) == ("handoff", None)


async def test_a_russian_conversation_resumes_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("Хочу купить 3 ноутбука для офиса")

    assert await ivan.open() == [
        "Продолжим с того места, где остановились.",
        "Как вас зовут и как с вами связаться? Напишите имя и email или номер телефона.",
    ]
