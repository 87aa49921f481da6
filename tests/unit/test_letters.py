"""What a mail is about: its sentences decide when its courtesies outweigh its request
(handlers/letters.py); an order's number is never read as one of our tickets."""

from __future__ import annotations

import pytest

from bot.intents import IntentMatcher
from handlers.catalog import CATALOG_DIR
from handlers.letters import sentences, what_it_asks
from handlers.service import ticket_references

SHIPPED = IntentMatcher.from_file(CATALOG_DIR / "intents.toml")


def asks(text: str, lang: str) -> str:
    return what_it_asks(SHIPPED.match(text, lang), text, SHIPPED, lang).route


def test_sentences_end_at_stops_and_lines() -> None:
    text = "Hi there,\n\nCould you send a price? We run gyms.\nRegards"
    assert sentences(text) == ["Hi there,", "Could you send a price?", "We run gyms.", "Regards"]


@pytest.mark.parametrize(
    ("text", "lang", "route"),
    [
        ("Hi there,\n\nCould you send me a price for 12 treadmills?\n\nRegards", "en", "lead"),
        ("Добрый день,\n\nищем кофемашину для кофейни.\n\nВсего хорошего", "ru", "lead"),
        (
            "I am writing to complain. The printer still jams every few pages. What can you do?",
            "en",
            "service",
        ),
        ("Пишу с жалобой. Кондиционер течёт. Что вы можете сделать?", "ru", "service"),
    ],
)
def test_a_request_framed_by_courtesies_is_what_the_mail_asks(
    text: str, lang: str, route: str
) -> None:
    assert asks(text, lang) == route


@pytest.mark.parametrize(
    ("text", "lang"),
    [("Hello! What can you do?", "en"), ("Thank you!\n\nBest,\nMona", "en"), ("Спасибо!", "ru")],
)
def test_courtesies_alone_stay_small_talk(text: str, lang: str) -> None:
    assert asks(text, lang) == "other"


@pytest.mark.parametrize(
    ("text", "tickets"),
    [
        ("status #1042", [1042]),
        ("what about ticket 1042 and #1043?", [1042, 1043]),
        ("Заказ № 30981 до сих пор не пришёл", []),
        ("where is my order #55310?", []),
        ("заявка №1042 по заказу № 30981", [1042]),
    ],
)
def test_an_order_number_is_no_ticket_reference(text: str, tickets: list[int]) -> None:
    assert ticket_references(text) == tickets
