"""Bad and odd input: every message gets a sensible reply, is stored exactly as sent, and is
never parked (a parked message means the turn crashed)."""

from __future__ import annotations

import pytest

from bot.model import InboundMessage, Outcome
from tests.harness import BotHarness, Customer

EMPTY = "Your message was empty. Write what you need, or choose an option."
NOT_UNDERSTOOD = "Sorry, I didn't quite get that. Please choose one of the options or describe what you need in a few words."
GREETING = "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an existing order or request, or put you in touch with a person from our team."
GREETING_RU = "Здравствуйте! Я помощник компании Touchpoint. Могу подготовить для вас предложение, помочь с текущим заказом или заявкой или связать вас с сотрудником."
OPENED_1001 = 'Your request #1001 is open. Our team will look into it and I\'ll follow up within 24 hours. Ask "status #1001" any time.'
MENU = ["menu:lead", "menu:service", "menu:status", "menu:human"]
HUNDRED_KB = ("My order 5531 arrived with a cracked lid and a bent handle. " * 1700)[:100_000]


async def stored_text(bot: BotHarness, message: InboundMessage) -> str | None:
    async with bot.database.transaction() as uow:
        message_id = await uow.messages.find_id(message.channel, message.external_id)
        return await uow.messages.text_of(message_id) if message_id is not None else None


async def parked(bot: BotHarness) -> int:
    async with bot.database.transaction() as uow:
        return len(await uow.dead_letters.search())


async def send_and_check_kept(
    bot: BotHarness, customer: Customer, text: str, stored: str | None = None
) -> list[str]:
    """Send `text`; check it was handled (not parked) and stored (as `stored`, by default
    exactly as sent); return the replies."""
    message = customer.message(text)
    replies = await customer.send(message)
    assert customer.last_result is not None
    assert customer.last_result.outcome is Outcome.HANDLED
    assert await stored_text(bot, message) == (text if stored is None else stored)
    assert await parked(bot) == 0
    return replies


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [EMPTY]),
        ("   \n\t  ", [EMPTY]),
        ("\x1b[31mred alert\x1b[0m", [NOT_UNDERSTOOD]),
        ("\u202eexe.txt", [NOT_UNDERSTOOD]),
        ("😀😀😀", [NOT_UNDERSTOOD]),
        ("Supercalifragilistic" * 500, [NOT_UNDERSTOOD]),
        ("<b>hi</b> *bold* [link](http://x)", [GREETING, "What would you like to do?"]),
        ("Hello привет 你好 مرحبا", [GREETING_RU, "Что вы хотели бы сделать?"]),
    ],
    ids=[
        "empty",
        "whitespace",
        "ansi-escape",
        "right-to-left-override",
        "emoji-only",
        "long-single-word",
        "markup",
        "mixed-scripts",
    ],
)
async def test_odd_text_gets_a_sensible_reply_and_is_kept(
    bot: BotHarness, text: str, expected: list[str]
) -> None:
    alice = bot.customer("alice")

    assert await send_and_check_kept(bot, alice, text) == expected

    assert alice.last_options() == MENU
    assert await bot.state_of(alice) == ("idle", None)


@pytest.mark.parametrize("text", ["\x00", "qwerty\x00uiop"], ids=["nul", "nul-inside"])
async def test_a_nul_character_gets_a_reply_and_is_kept_as_a_visible_symbol(
    bot: BotHarness, text: str
) -> None:
    # Regression: PostgreSQL text cannot hold NUL, so such a message used to be parked there.
    alice = bot.customer("alice")
    stored = text.replace("\x00", "\u2400")

    assert await send_and_check_kept(bot, alice, text, stored) == [NOT_UNDERSTOOD]


async def test_sql_like_text_is_only_text(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await send_and_check_kept(bot, alice, "'; DROP TABLE leads; --") == [NOT_UNDERSTOOD]

    # The leads table is still there and works: a whole lead goes through.
    await alice.say("/lead")
    await alice.say("Robert'); DROP TABLE leads;-- needs 3 desks")
    await alice.say("Robert Tables")
    await alice.press("lead:skip")
    await alice.say("bobby@tables.example")
    await alice.press("lead:skip")
    await alice.press("lead:skip")
    await alice.press("lead:confirm")
    [lead] = await bot.leads()
    assert (lead.need, lead.name) == (
        "Robert'); DROP TABLE leads;-- needs 3 desks",
        "Robert Tables",
    )


async def test_100_kb_of_text_opens_a_ticket_and_is_kept_whole(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.press("menu:service")

    assert await send_and_check_kept(bot, alice, HUNDRED_KB) == [OPENED_1001]

    [ticket] = await bot.tickets()
    assert ticket.summary == HUNDRED_KB[:4000]
    async with bot.database.transaction() as uow:
        [received] = await uow.touchpoints.search(kind="message_in", limit=1)
    assert received.details["text"] == HUNDRED_KB[:200]


async def test_100_kb_of_free_text_gets_a_reply(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    replies = await send_and_check_kept(bot, alice, HUNDRED_KB)

    assert replies != []
    assert all(len(reply) < 1000 for reply in replies)


NAME_AND_CONTACT = "Who should our sales rep contact? Please write your name and an email address or a phone number."


async def test_100_kb_as_a_lead_answer_is_kept_and_the_flow_goes_on(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")

    assert await send_and_check_kept(bot, alice, HUNDRED_KB) == [NAME_AND_CONTACT]
    # A name of 100 KB is not a name: asked again, and the flow stays at the step.
    assert await send_and_check_kept(bot, alice, HUNDRED_KB) == [
        'Please write your name and an email address or a phone number, for example "Anna Petrova, anna@example.com".',
        NAME_AND_CONTACT,
    ]
    assert await bot.state_of(alice) == ("lead", "name_contact")

    await alice.say("Alice Green, alice@green.example")
    await alice.press("lead:skip")
    await alice.press("lead:skip")
    assert await alice.say("yes") == [
        "Thank you, Alice Green! Your request is saved. Nobody from our sales team is available "
        "right now, so it may take a while, but they will get back to you."
    ]
    [lead] = await bot.leads()
    assert lead.need == HUNDRED_KB[:2000]


async def test_an_empty_message_inside_a_lead_flow_asks_again(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("/lead")

    replies = await send_and_check_kept(bot, alice, "   ")

    assert replies == [
        "Please tell me a little more.",
        "What are you looking for? A product, a service, quantities — a sentence or two is enough.",
    ]
    assert await bot.state_of(alice) == ("lead", "need")


async def test_odd_text_in_russian_conversation_is_answered_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")

    assert await send_and_check_kept(bot, ivan, "😀😀😀") == [
        "Извините, я не совсем понял. Выберите вариант ниже или опишите в паре слов, что вам нужно."
    ]
    # Greeted already: the short answer, not the whole menu again.
    assert await send_and_check_kept(bot, ivan, "") == [
        "Слушаю: напишите, что вам нужно, или /help, чтобы увидеть варианты."
    ]
