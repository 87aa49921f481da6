"""The general shapes customers write in, routed by the shipped catalog (our own sentences,
English and Russian): requests, price questions, negations, cancellations, delivery problems,
and typo-corrections that never turn one real word into another."""

from __future__ import annotations

import pytest

from handlers.catalog import Catalog

MATCHER = Catalog.load().matcher


def routed(text: str) -> tuple[str, str]:
    match = MATCHER.match(text)
    return match.route, match.intent


# --- a request: want / need / looking for + a quantity and/or a product -------------------


@pytest.mark.parametrize(
    "text",
    [
        "need 15 standing desks",
        "We need twelve monitors for the design team",
        "looking for a laser printer for a small office",
        "I'd like 4 projectors",
        "we would like several conference speakerphones",
        "interested in 30 tablets for a school",
        "Hi, we want 2 coffee machines",
        "I am looking for ergonomic chairs",
        "we're in need of 40 headsets",
        "нужно 6 мониторов Dell",
        "Нужны 3 сервера HP ProLiant DL380",
        "ищу проектор для переговорной",
        "ищем поставщика офисных кресел",
        "хотим 25 планшетов Samsung",
        "Хотел бы 2 кофемашины в офис",
        "интересуют ноутбуки Lenovo ThinkPad, штук десять",
        "Здравствуйте, нужен МФУ Kyocera",
        "нам надо пару принтеров",
    ],
)
def test_a_request_for_a_quantity_or_a_product_is_a_lead(text: str) -> None:
    assert routed(text)[0] == "lead"


# --- price questions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "how much?",
        "How much for 10 of them?",
        "what would 50 licences cost",
        "price of the annual plan",
        "could you send a quote for 8 routers",
        "сколько?",
        "Сколько стоит доставка 20 стульев?",
        "почём планшеты?",
        "цена на 40 лицензий",
        "какая стоимость подписки на год",
        "а сколько за штуку?",
    ],
)
def test_a_price_question_is_a_lead(text: str) -> None:
    assert routed(text)[0] == "lead"


# --- negations cancel what they cover -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to buy anything, just looking around",
        "not interested in buying, thanks",
        "We do not need a quote right now",
        "no need to call me",
        "я ничего не хочу покупать, просто смотрю",
        "нам не нужно коммерческое предложение",
        "не надо мне звонить",
    ],
)
def test_a_negated_purchase_is_not_a_lead(text: str) -> None:
    assert routed(text)[0] != "lead"


@pytest.mark.parametrize(
    "text",
    [
        "I do not want to talk to a person",
        "no need for a human, thanks",
        "я не хочу говорить с человеком",
        "оператора не надо",
    ],
)
def test_a_negated_request_for_a_person_is_no_hand_off(text: str) -> None:
    assert routed(text)[0] != "human"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("my card doesn't work", "service"),
        ("the parcel has not arrived", "service"),
        ("I don't want a bot, let me talk to a person", "human"),
        ("не хочу ждать, соедините с оператором", "human"),
        ("заказ не пришёл", "service"),
        ("I don't need a call, just send me the prices", "lead"),
    ],
)
def test_a_negation_leaves_what_it_does_not_cover(text: str, route: str) -> None:
    assert routed(text)[0] == route


# --- cancellations and delivery problems are service requests -------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "cancel my order",
        "Please cancel order 55120",
        "I want to cancel my purchase",
        "отмените мой заказ",
        "прошу отменить заказ 55120",
        "хочу отменить заказ",
    ],
)
def test_cancelling_an_order_is_a_service_request_not_a_status(text: str) -> None:
    assert routed(text) == ("service", "service.order")


@pytest.mark.parametrize(
    "text",
    [
        "my parcel arrived damaged",
        "the package was lost in transit",
        "my order is late again",
        "you sent me the wrong item",
        "the box came with a broken lamp",
        "посылка пришла повреждённой",
        "курьер потерял мою посылку",
        "заказ опаздывает уже на неделю",
        "прислали не тот товар",
        "в заказе не хватает двух позиций",
    ],
)
def test_damaged_lost_late_or_wrong_items_are_a_delivery_problem(text: str) -> None:
    assert routed(text) == ("service", "service.delivery")


# --- typo-corrections never map a real word to another --------------------------------------


def test_a_real_word_is_never_read_as_a_typo_of_another() -> None:
    match = MATCHER.match("our support contract renewal date", "en")
    assert "contact" not in match.matched.split(" + ")
    assert "support" not in match.matched or match.route != "human"


def test_a_misspelt_word_still_matches() -> None:
    match = MATCHER.match("I need a refnud", "en")
    assert (match.route, match.matched) == ("service", "refund*")
