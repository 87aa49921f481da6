"""The language of a message, decided on the words that carry one, and the conversation's
language kept unless the customer clearly switched."""

from __future__ import annotations

import pytest

from bot.language import detect_language, evidence, language_for
from bot.model import Address, InboundMessage, Sender
from bot.records import Conversation, ConversationState

# --- one message -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Нам нужно 4 сервера Dell PowerEdge R760",
        "Подскажите, есть ли в наличии Samsung Galaxy Tab S9 Ultra",
        "Напишите мне на petrov.ivan@northwind-trading.example",
        "Прайс смотрела тут https://shop.example.com/catalog/printers?page=2",
        "Сколько стоит лицензия Microsoft 365 Business Premium на 12 месяцев?",
        "Возьмём 2 ТБ SSD Kingston и 16GB DDR5, 10 pcs",
        "Интересует Xiaomi Redmi Note 13 Pro, 3 шт",
        "хочу ноутбук asus zenbook",  # lower-case brands too
        "нужен microsoft office",  # an English word among Russian ones: still Russian
        "заказ на amazon не пришёл",
        "Где мой заказ?",
    ],
)
def test_russian_with_brands_addresses_numbers_and_units_is_russian(text: str) -> None:
    assert detect_language(text) == "ru"


@pytest.mark.parametrize(
    "text",
    [
        "We need 40 ergonomic chairs for the new office",
        "how much would 3 iPhone 15 Pro cost",
        "my order from Озон never came",
        "Where is my parcel?",
        "PLEASE CALL ME BACK",
        "hello",  # no word that only English has: the letters decide
    ],
)
def test_english_is_english(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    ("text", "ru", "en"),
    [
        ("нужны 3 сервера HP ProLiant", 2, 0),
        ("ok", 0, 0),
        ("5", 0, 0),
        ("olga.smirnova@example.org", 0, 0),
        ("https://vektor.example/price", 0, 0),
        ("🙂👍", 0, 0),
        ("iPhone 15 Pro Max 256GB", 0, 0),
        ("I'd like two of those", 0, 5),
    ],
)
def test_only_words_that_carry_a_language_count(text: str, ru: int, en: int) -> None:
    found = evidence(text)
    assert (found.ru, found.en) == (ru, en)


def test_without_letters_the_default_is_kept() -> None:
    assert detect_language("+7 999 123-45-67", default="ru") == "ru"
    assert detect_language("", default="xx") == "xx"


# --- a conversation ----------------------------------------------------------------------------


def message(text: str, hint: str | None = None) -> InboundMessage:
    address = Address("console", "someone")
    return InboundMessage("m1", address, Sender("someone", language_hint=hint), text=text)


def conversation(language: str, state: str = "idle") -> Conversation:
    current = ConversationState(state=state, language=language)
    return Conversation(1, 1, "console", "someone", "someone", None, None, 1, current)


@pytest.mark.parametrize(
    "text",
    ["ok", "5", "👍", "ivan.petrov@example.org", "https://example.org", "Lenovo ThinkPad E14"],
)
def test_a_message_without_language_words_keeps_the_conversations_language(text: str) -> None:
    assert language_for(message(text), conversation("ru"), "en") == "ru"
    assert language_for(message(text), conversation("ru", "lead"), "en") == "ru"


def test_russian_with_an_address_keeps_a_russian_conversation_russian() -> None:
    text = "Моя почта o.smirnova@vektor-group.example, сайт https://vektor-group.example"
    assert language_for(message(text), conversation("ru", "lead"), "en") == "ru"


def test_a_clear_switch_changes_the_language() -> None:
    assert (
        language_for(message("Can you answer in English please"), conversation("ru"), "en") == "en"
    )
    assert language_for(message("Давайте лучше по-русски"), conversation("en"), "ru") == "ru"


def test_inside_a_flow_one_foreign_word_is_not_a_switch() -> None:
    assert language_for(message("Anna"), conversation("ru", "lead"), "en") == "ru"
    assert language_for(message("Иван"), conversation("en", "lead"), "en") == "en"
    assert language_for(message("Анна Кузнецова"), conversation("en", "lead"), "en") == "en"
    assert (
        language_for(message("Меня зовут Анна Кузнецова"), conversation("en", "lead"), "en") == "ru"
    )


def test_a_new_conversation_takes_the_client_language_when_the_text_has_none() -> None:
    assert language_for(message("👍", hint="ru-RU"), None, "en") == "ru"
    assert language_for(message("нужно 5 штук", hint="en"), None, "en") == "ru"


def test_a_command_name_is_no_evidence() -> None:
    assert language_for(message("/help"), conversation("ru"), "en") == "ru"
    assert language_for(message("/lead хочу 10 ноутбуков"), conversation("en"), "en") == "ru"
