"""Anger signals: enough for a person to take over, never for a plain complaint."""

from __future__ import annotations

import pytest

from handlers.mood import anger_signals, sounds_angry


@pytest.mark.parametrize(
    "text",
    [
        "This is the worst service ever!!!",
        "You are scammers and frauds",
        "WHERE IS MY ORDER, I PAID TWO WEEKS AGO!!!",
        "Absolutely unacceptable. I'm furious.",
        "Это обман, верните деньги!",
        "Вы мошенники",
        "ДОСТАЛИ УЖЕ, ГДЕ МОЙ ЗАКАЗ",
    ],
)
def test_angry(text: str) -> None:
    assert sounds_angry(anger_signals(text)), anger_signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "My order 5531 arrived damaged, terrible packaging.",
        "The chair is broken, please help",
        "I need a quote for 40 desks ASAP!",
        "Thanks!! You were great",
        "Please send the invoice to ACME GmbH",
        "Заказ пришёл с браком, ужасно.",
        "Спасибо!!",
        "Terrible weather today",
        "Our lawyer will review the contract",
        "Оформим развод поставок на два склада",
    ],
)
def test_not_angry(text: str) -> None:
    assert not sounds_angry(anger_signals(text)), anger_signals(text)


def test_signals_name_what_sounded_angry() -> None:
    assert anger_signals("WORST. SERVICE. EVER. SCAM!!!") == (
        "strong:scam",
        "word:worst",
        "shouting",
        "!!!",
    )
