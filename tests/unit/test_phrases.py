"""The matcher's newer words and rules on a small catalog of our own: Russian lemmas,
{count} and {thing}, whole-message phrases, negation scopes, and the typo guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.intents import CatalogError, IntentMatcher

CATALOG = """
[settings]
languages = ["en", "ru"]
threshold = 0.5
typo_min_length = 5

[stopwords]
en = ["a", "to", "the", "for", "please"]
ru = ["в", "для", "на"]

[negation]
cancels = ["lead", "human"]

[negation.en]
scopes = ['"{negation} want|need"', '"no need"']
clause_breaks = ["but", "just"]

[negation.ru]
scopes = ['"не хотеть~|нужный~|нужно|надо"']
clause_breaks = ["но", "а"]

[groups.en]
negation = ["dont", "not", "no"]
nothing = ["help", "time"]
verb_marker = ["to"]
person = ["human", "person", "agent"]

[groups.ru]
preposition = ["для", "в", "на"]

[intents."human.agent"]
route = "human"
weight = 1.2
en = ["talk {person}", "{person}"]
ru = ["человек*"]

[intents."lead.request"]
route = "lead"
weight = 0.85
en = ['"need {count} {thing}"', '"need {thing}"', "=how much"]
ru = ['"нужный~ {count} {thing}"', '"нужный~|хотеть~ {thing}"', "=сколько"]

[intents."service.repair"]
route = "service"
weight = 1.2
en = ["not working", "contact support"]

[intents."other.help"]
route = "other"
weight = 0.9
en = ["help"]
"""


@pytest.fixture
def matcher(tmp_path: Path) -> IntentMatcher:
    path = tmp_path / "intents.toml"
    path.write_text(CATALOG, encoding="utf-8")
    return IntentMatcher.from_file(path)


def matched(matcher: IntentMatcher, text: str, lang: str) -> tuple[str, str]:
    match = matcher.match(text, lang)
    return match.intent, match.matched


# --- Russian lemmas ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["нужен принтер", "нужны принтеры", "хотим принтер"])
def test_a_lemma_matches_every_form_and_says_so(matcher: IntentMatcher, text: str) -> None:
    intent, words = matched(matcher, text, "ru")
    assert intent == "lead.request"
    assert words.split(" + ")[0] in ("нужный~", "хотеть~")


def test_a_lemma_must_be_a_dictionary_form(tmp_path: Path) -> None:
    path = tmp_path / "intents.toml"
    path.write_text(CATALOG.replace('"нужный~|хотеть~ {thing}"', '"нужны~ {thing}"'), "utf-8")
    with pytest.raises(CatalogError, match="dictionary form"):
        IntentMatcher.from_file(path)


def test_lemmas_are_for_russian_only(tmp_path: Path) -> None:
    path = tmp_path / "intents.toml"
    path.write_text(CATALOG.replace('"need {thing}"', '"want~ {thing}"'), "utf-8")
    with pytest.raises(CatalogError, match="Russian only"):
        IntentMatcher.from_file(path)


# --- {count} and {thing} ------------------------------------------------------------------------


def test_a_count_and_a_thing_close_together(matcher: IntentMatcher) -> None:
    assert matched(matcher, "we need 14 monitors", "en") == (
        "lead.request",
        "need + {count} + {thing}",
    )
    assert matcher.match("need them all at some point, 14 monitors", "en").intent != "lead.request"


def test_a_long_number_is_a_reference_not_a_count(matcher: IntentMatcher) -> None:
    assert matched(matcher, "need 552013 monitors", "en")[1] != "need + {count} + {thing}"


def test_words_of_the_catalog_or_its_nothing_group_are_no_things(matcher: IntentMatcher) -> None:
    assert matcher.match("need help", "en").intent == "other.help"
    assert matcher.match("need time", "en").intent == "none"


def test_a_verb_after_to_has_no_thing_for_the_request(matcher: IntentMatcher) -> None:
    assert matcher.match("need to make a list", "en").intent == "none"


def test_a_russian_prepositional_phrase_or_complement_is_no_thing(matcher: IntentMatcher) -> None:
    assert matcher.match("нужны для томатного супа", "ru").intent == "none"
    assert matcher.match("нужен рецепт", "ru").intent == "lead.request"


# --- whole-message phrases ----------------------------------------------------------------------


def test_a_whole_message_phrase_needs_the_message_to_be_just_that(matcher: IntentMatcher) -> None:
    assert matcher.match("How much?", "en").intent == "lead.request"
    assert matcher.match("how much was it yesterday", "en").intent == "none"
    assert matcher.match("Сколько?", "ru").intent == "lead.request"
    assert matcher.match("сколько звёзд на небе", "ru").intent == "none"


# --- negation -----------------------------------------------------------------------------------


def test_a_negation_scope_cancels_the_routes_it_covers(matcher: IntentMatcher) -> None:
    assert matcher.match("I dont need 3 monitors", "en").intent == "none"
    assert matcher.match("dont want to talk to a human", "en").intent == "none"
    assert matcher.match("я не хочу говорить с человеком", "ru").intent == "none"


def test_a_negation_ends_with_its_clause(matcher: IntentMatcher) -> None:
    assert matcher.match("no need to hurry, but talk to a human", "en").intent == "human.agent"
    assert matcher.match("dont want to wait just talk to a person", "en").intent == "human.agent"


def test_a_negation_at_the_end_of_its_clause_negates_what_came_before(
    matcher: IntentMatcher,
) -> None:
    assert matcher.match("человек не нужен", "ru").intent == "none"


def test_a_phrase_about_a_negation_stays(matcher: IntentMatcher) -> None:
    assert matcher.match("the printer is not working", "en").intent == "service.repair"


# --- the typo guard -----------------------------------------------------------------------------


def test_a_real_word_is_never_corrected_into_another(matcher: IntentMatcher) -> None:
    # "contract" is one letter from "contact", but it is an English word of its own.
    assert matcher.match("support contract", "en").intent == "none"
    assert matched(matcher, "contakt support", "en") == (
        "service.repair",
        "contact + support",
    )
