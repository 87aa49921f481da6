"""Small talk, commands and menus, as transcripts in English and Russian."""

from __future__ import annotations

import pytest

from tests.harness import BotHarness, Customer

GREETING = "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an existing order or request, or put you in touch with a person from our team."
GREETING_RU = "Здравствуйте! Я помощник компании Touchpoint. Могу подготовить для вас предложение, помочь с текущим заказом или заявкой или связать вас с сотрудником."
HELP = 'Here is what I can do:\n- prepare an offer or a quote (say what you need)\n- open a service request and tell you its status ("status #1042")\n- connect you with a person (/human)\nYou can stop any question with /cancel.'
HELP_RU = "Вот что я умею:\n- подготовить предложение или расчёт стоимости (напишите, что вам нужно)\n- принять заявку по заказу или проблеме и подсказать её статус («статус #1042»)\n- связать вас с сотрудником (/human)\nЛюбой вопрос можно прервать командой /cancel."
ASK_DETAILS = "I'll open a service request. Please describe the issue in a message: what happened, and an order or invoice number if you have one."
NOT_UNDERSTOOD = "Sorry, I didn't quite get that. Please choose one of the options or describe what you need in a few words."
GREETING_AGAIN = "Hello again! How can I help? (/help shows what I can do.)"
GREETING_AGAIN_RU = "Здравствуйте ещё раз! Чем могу помочь? (/help — что я умею.)"
LISTENING = "I'm listening: write what you need, or /help to see the options."
MENU = ["menu:lead", "menu:service", "menu:status", "menu:human"]


def labels_of_last(bot: BotHarness, customer: Customer) -> list[str]:
    sent = [m for m in bot.channels["console"].sent if m.address.value == customer.address.value]
    return [option.label for option in sent[-1].options]


async def kinds_of(bot: BotHarness, customer: Customer) -> list[str]:
    """The customer's touchpoints in order, without the relay's delivery receipts."""
    async with bot.database.transaction() as uow:
        contact_id = await uow.contacts.owner_of(customer.address.channel, customer.address.value)
    assert contact_id is not None
    return [kind for kind in await bot.kinds(contact_id) if kind != "delivered"]


async def language_of(bot: BotHarness, customer: Customer) -> str:
    async with bot.database.transaction() as uow:
        conversation = await uow.conversations.find("console", customer.address.value)
    assert conversation is not None
    return conversation.current.language


# --- greetings and the menu ---------------------------------------------------------------


async def test_hello_gets_a_greeting_and_a_menu_of_four(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("hello") == [GREETING, "What would you like to do?"]

    assert alice.last_options() == MENU
    assert labels_of_last(bot, alice) == [
        "Get an offer",
        "Existing order or request",
        "Status of my request",
        "Talk to a person",
    ]
    assert await kinds_of(bot, alice) == ["message_in", "message_out", "message_out"]
    assert await bot.state_of(alice) == ("idle", None)


async def test_privet_gets_a_russian_greeting_and_menu(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")

    assert await ivan.say("привет") == [GREETING_RU, "Что вы хотели бы сделать?"]

    assert ivan.last_options() == MENU
    assert labels_of_last(bot, ivan) == [
        "Получить предложение",
        "Текущий заказ или заявка",
        "Статус заявки",
        "Связаться с сотрудником",
    ]


async def test_once_greeted_a_hello_or_an_empty_line_gets_a_short_answer(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    assert await alice.say("hello") == [GREETING, "What would you like to do?"]

    assert await alice.say("hi") == [GREETING_AGAIN]
    assert await alice.say("") == [LISTENING]
    assert await alice.say("good morning") == [GREETING_AGAIN]


async def test_the_greeting_is_remembered_through_a_flow(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("hello")
    await alice.press("menu:lead")
    assert await alice.say("/cancel") == ["Cancelled, nothing was saved."]

    assert await alice.say("hello") == [GREETING_AGAIN]


async def test_a_first_hello_after_a_request_gets_the_whole_greeting(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("thanks")  # no introduction yet

    assert await alice.say("hello") == [GREETING, "What would you like to do?"]


async def test_start_greets_in_full_even_when_greeted(bot: BotHarness) -> None:
    alice = bot.customer("alice", channel="telegram")
    await alice.say("hello")

    assert await alice.say("/start") == [GREETING, "What would you like to do?"]


async def test_start_command_greets(bot: BotHarness) -> None:
    alice = bot.customer("alice", channel="telegram")

    assert await alice.say("/start") == [GREETING, "What would you like to do?"]
    assert alice.last_options() == MENU


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("thanks", "You're welcome! Write any time."),
        ("спасибо", "Пожалуйста! Пишите в любое время."),
        ("bye", "Goodbye! We're here whenever you need us."),
        ("до свидания", "До свидания! Мы на связи, когда понадобимся."),
    ],
)
async def test_thanks_and_goodbye(bot: BotHarness, text: str, reply: str) -> None:
    alice = bot.customer("alice")

    assert await alice.say(text) == [reply]
    assert alice.last_options() == []
    assert await kinds_of(bot, alice) == ["message_in", "message_out"]


async def test_help_command_shows_what_the_bot_can_do(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("/help") == [HELP]
    assert alice.last_options() == MENU


async def test_asking_for_help_in_russian_shows_it_in_russian(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")

    assert await ivan.say("помощь") == [HELP_RU]
    assert ivan.last_options() == MENU


async def test_an_unknown_command_says_so_and_shows_the_help(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("/foo") == ["I don't know that command.", HELP]
    assert alice.last_options() == MENU
    assert await bot.state_of(alice) == ("idle", None)


async def test_cancel_with_nothing_open(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("/cancel") == ["There is nothing to cancel."]


# --- buttons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ["lead:confirm", "xyz", "menu:nonsense", "\u00ff" * 32, "x" * 64],
    ids=["lead-confirm-without-lead", "unknown", "unknown-menu-action", "64-bytes", "64-chars"],
)
async def test_a_stale_or_forged_button_is_rejected_with_the_menu(
    bot: BotHarness, data: str
) -> None:
    alice = bot.customer("alice")

    assert await alice.press(data) == [
        "That button is no longer active.",
        "What would you like to do?",
    ]

    assert alice.last_options() == MENU
    assert await kinds_of(bot, alice) == [
        "message_in",
        "button_rejected",
        "message_out",
        "message_out",
    ]
    async with bot.database.transaction() as uow:
        [rejected] = await uow.touchpoints.search(kind="button_rejected")
    assert rejected.details == {"data": data}
    assert await bot.leads() == []


async def test_a_stale_button_in_a_russian_conversation_is_rejected_in_russian(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")

    assert await ivan.press("lead:confirm") == [
        "Эта кнопка уже неактивна.",
        "Что вы хотели бы сделать?",
    ]


async def test_typing_an_options_number_picks_it(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("hello")

    assert await alice.say("2") == [ASK_DETAILS]
    assert await bot.state_of(alice) == ("service", "describe")


async def test_typing_an_options_label_picks_it(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say("hello")

    assert await alice.say("existing order or request") == [ASK_DETAILS]
    assert await bot.state_of(alice) == ("service", "describe")


async def test_typing_a_russian_options_number_and_label(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")

    replies = await ivan.say("Получить предложение")
    assert replies == [
        "Отлично, передам это нашему отделу продаж. Несколько коротких вопросов (в любой момент можно /cancel).",
        "Что вас интересует? Товар, услуга, количество — достаточно пары предложений.",
    ]
    assert await bot.state_of(ivan) == ("lead", "need")
    await ivan.say("/cancel")
    assert await ivan.say("4") == [  # no rep is registered: nobody to talk to, said so
        "Сейчас никого из команды нет на связи, поэтому соединить вас с сотрудником я не могу. "
        "Если хотите, напишите сообщение здесь, и я передам его команде. "
        "Или /cancel, чтобы продолжить со мной."
    ]


async def test_a_number_is_an_option_only_while_the_options_are_on_screen(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await alice.say("hello")
    assert await alice.say("7") == [NOT_UNDERSTOOD]  # only four options were offered

    await alice.say("thanks")  # a reply without options: the menu is gone

    assert await alice.say("2") == [NOT_UNDERSTOOD]


# --- language -----------------------------------------------------------------------------


async def test_the_reply_language_follows_each_message(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert (await alice.say("hello"))[0] == GREETING
    assert await language_of(bot, alice) == "en"

    # Greeted already: the short answer, in the new language.
    assert await alice.say("Здравствуйте, подскажите пожалуйста") == [GREETING_AGAIN_RU]
    assert await language_of(bot, alice) == "ru"
    assert await alice.say("спасибо большое") == ["Пожалуйста! Пишите в любое время."]

    assert await alice.say("thank you") == ["You're welcome! Write any time."]
    assert await language_of(bot, alice) == "en"


async def test_a_button_press_is_answered_in_the_conversations_language(
    bot: BotHarness,
) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")

    assert await ivan.press("menu:service") == [
        "Я открою заявку. Опишите, пожалуйста, одним сообщением, что случилось, и укажите номер заказа или счёта, если он есть."
    ]


async def test_a_command_keeps_the_conversations_language(bot: BotHarness) -> None:
    ivan = bot.customer("ivan")
    await ivan.say("привет")

    assert await ivan.say("/help") == [HELP_RU]
    assert await language_of(bot, ivan) == "ru"
