"""Anger signals: enough for a person to take over, never for a plain complaint."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.catalog import CATALOG_DIR
from handlers.mood import AngerRules, MoodError, sounds_angry

anger_signals = AngerRules.load(CATALOG_DIR).signals


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


def test_an_operators_catalog_adds_words_and_a_broken_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "mood.toml").write_text(
        '[anger]\nstrong = ["hopeless shop"]\nwords = []\n', encoding="utf-8"
    )
    rules = AngerRules.load(tmp_path)
    assert rules.signals("What a Hopeless Shop.") == ("strong:hopeless shop",)
    assert rules.signals("worst service!!!") == ("!!!",)  # only the operator's words now

    (tmp_path / "mood.toml").write_text("[anger]\nstrong = [1]\nwords = []\n", encoding="utf-8")
    with pytest.raises(MoodError, match=r"mood\.toml"):
        AngerRules.load(tmp_path)
