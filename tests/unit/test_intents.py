"""The intent matcher: normalisation, language detection, routing, and catalog errors.

Two kinds of tests: the mechanics run against small catalogs written here, so they do not move
when an operator edits the shipped catalog; the routing examples run against the shipped
catalog and say what the product promises (the sentences are ours, not from any corpus).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.intents import ROUTES, CatalogError, IntentMatcher, normalise
from bot.language import detect_language
from handlers.catalog import Catalog

SHIPPED = Catalog.load().matcher

TINY_CATALOG = """
[settings]
languages = ["en", "ru"]
threshold = 0.5
max_gap = 2
typo_min_length = 6
length_scores = [0.6, 0.8, 0.9, 1.0]

[stopwords]
en = ["a", "to", "the"]

[groups.en]
person = ["human", "agent", "operator*"]

[intents."human.agent"]
route = "human"
en = ["talk {person}", "operator*"]

[intents."service.status"]
route = "service"
weight = 1.2
en = ['"my order"', "order {number}"]

[intents."lead.buy"]
route = "lead"
en = ["order", "refund policy"]
ru = ["купить", "карт*"]

[intents."other.greeting"]
route = "other"
weight = 0.8
en = ["hello"]
"""


def write_catalog(tmp_path: Path, text: str, name: str = "intents.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> IntentMatcher:
    return IntentMatcher.from_file(write_catalog(tmp_path, TINY_CATALOG))


# --- normalise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello, WORLD!", "hello world"),
        ("Ёжик в тумане, ЁЛКА", "ежик в тумане елка"),
        ("I don't   know\t\nwhy", "i dont know why"),
        ("Heeeeey!!! soooo goood", "heey soo good"),
        ("order #1042 for $10000", "order 1042 for 10000"),
        ("👍 thanks 🙏 <b>a lot</b>", "thanks b a lot b"),
        ("top-up_failed", "top up failed"),
        ("noise-cancelling, hand-painted", "noisecancelling handpainted"),
        ("re-ordered a follow-up", "re ordered a follow up"),
        ("замо\u0301к", "замок"),
        ("\x00\x07 ctrl \u200b chars", "ctrl chars"),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


# --- detect_language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Где мой заказ?", "ru"),
        ("Where is my parcel?", "en"),
        ("заказ на amazon не пришёл", "ru"),
        ("my order from Озон", "en"),
        ("12345 !!! 🙂", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_uses_the_default_without_letters() -> None:
    assert detect_language("+7 999 123-45-67", default="ru") == "ru"
    assert detect_language("", default="xx") == "xx"


# --- routing with the shipped catalog ----------------------------------------------------------

ROUTING_EXAMPLES = [
    # lead
    ("Do you have a price list for the pro version?", "lead"),
    ("We'd like to buy twelve licences for our office", "lead"),
    ("Could I schedule a demo on Thursday?", "lead"),
    ("Put me in touch with your sales people about an offer", "lead"),
    ("How much would it cost to ship 300 units?", "lead"),
    ("Хотим приобрести вашу систему, сколько это стоит?", "lead"),
    ("Пришлите коммерческое предложение на десять рабочих мест", "lead"),
    ("Хочу купить подарочный сертификат", "lead"),
    ("Можно записаться на демонстрацию продукта?", "lead"),
    # service
    ("The parcel I ordered last week still has not arrived", "service"),
    ("Please send a copy of invoice 55120", "service"),
    ("I was charged two times for a single purchase", "service"),
    ("Forgot the password to my profile", "service"),
    ("The kettle you sent is broken, is it under warranty?", "service"),
    ("I would like my money back for the headphones", "service"),
    ("Посылка до сих пор не пришла, где она?", "service"),
    ("Заберите бракованный чайник и верните деньги", "service"),
    ("Не могу войти в личный кабинет, забыла пароль", "service"),
    ("С карты дважды списали оплату за заказ", "service"),
    ("Пылесос сломался, нужен ремонт по гарантии", "service"),
    # human
    ("Please let me speak to a real person", "human"),
    ("Could you connect me to an operator right now", "human"),
    ("I need a human agent, not a bot", "human"),
    ("Соедините меня с живым человеком", "human"),
    ("Позовите, пожалуйста, менеджера", "human"),
    ("Можно поговорить с оператором?", "human"),
    # other
    ("Good morning!", "other"),
    ("Many thanks, that helped", "other"),
    ("What is the tallest building in Asia?", "other"),
    ("Привет!", "other"),
    ("Спасибо за помощь, до свидания", "other"),
    ("Какая завтра погода в Казани?", "other"),
]


@pytest.mark.parametrize(("text", "route"), ROUTING_EXAMPLES)
def test_shipped_catalog_routes_clear_examples(text: str, route: str) -> None:
    assert SHIPPED.match(text).route == route


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what's the status of #1042", "service.status"),
        ("где мой заказ", "service.status"),
        ("статус заявки", "service.status"),
        ("talk to a human please", "human.agent"),
        ("hi there", "other.greeting"),
        ("thank you!", "other.thanks"),
        ("bye for now", "other.bye"),
        ("what can you do?", "other.help"),
        ("Что ты умеешь?", "other.help"),
    ],
)
def test_handlers_get_the_intents_they_rely_on(text: str, intent: str) -> None:
    assert SHIPPED.match(text).intent == intent


def test_sales_call_beats_human_and_human_beats_service() -> None:
    assert SHIPPED.match("I want to talk to your sales team").route == "lead"
    assert SHIPPED.match("can I speak to someone about pricing").route == "lead"
    assert SHIPPED.match("I want to talk to a person about my refund").route == "human"


def test_greeting_in_front_of_a_request_loses_to_the_request() -> None:
    assert SHIPPED.match("Hello! My card was declined at the shop").route == "service"
    assert SHIPPED.match("Здравствуйте, хочу купить два чайника").route == "lead"


def test_a_hyphenated_participle_is_no_verb() -> None:
    noise = "we're interested in 40 noise-cancelling headsets for our call centre"
    assert SHIPPED.match(noise).route == "lead"
    assert SHIPPED.match("please cancel our order 5531").route == "service"


def test_typos_and_inflections_still_match() -> None:
    assert SHIPPED.match("i need a refnud").intent == "service.refund"
    assert SHIPPED.match("connect me with an opertor").route == "human"
    assert SHIPPED.match("у меня заблокировали карточку").route == "service"


def test_match_explains_itself() -> None:
    result = SHIPPED.match("Where is my order?")
    assert (result.intent, result.route, result.lang) == ("service.status", "service", "en")
    assert 0.5 <= result.score <= 1.0
    assert result.score == round(result.score, 3)
    assert "order" in result.matched


def test_every_shipped_intent_is_prefixed_with_its_route() -> None:
    assert SHIPPED.intents
    assert all(intent.split(".")[0] in ROUTES for intent in SHIPPED.intents)


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "😀🎉", "\x00\x1b[31m", "???"])
def test_nothing_to_match_is_none(text: str) -> None:
    result = SHIPPED.match(text)
    assert (result.intent, result.route, result.score, result.matched) == ("none", "other", 0, "")


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE contacts; --",
        "<script>alert('refund')</script>" * 50,
        "\u202e\u0000\ufeffhello\udcff",
        "a" * 100_000,
        "refund " * 20_000,
    ],
)
def test_hostile_or_huge_text_is_answered(text: str) -> None:
    result = SHIPPED.match(text)
    assert result.route in ROUTES
    assert len(result.matched) < 200


def test_given_language_is_used_and_an_unknown_one_is_detected() -> None:
    assert SHIPPED.match("хочу купить", lang="ru").lang == "ru"
    assert SHIPPED.match("хочу купить", lang="de").lang == "ru"


def test_text_in_another_language_than_the_conversation_still_matches() -> None:
    result = SHIPPED.match("talk to a human", lang="ru")
    assert (result.route, result.lang) == ("human", "en")


# --- matcher mechanics (tiny catalog) ----------------------------------------------------------


def test_all_words_of_a_phrase_must_be_present(tiny: IntentMatcher) -> None:
    assert tiny.match("talk to the agent").intent == "human.agent"
    assert tiny.match("talk to me").intent == "none"


def test_words_may_not_be_too_far_apart(tiny: IntentMatcher) -> None:
    assert tiny.match("talk about weather and the news with an agent").intent == "none"


def test_quoted_phrase_keeps_its_order(tiny: IntentMatcher) -> None:
    assert tiny.match("where is my order").intent == "service.status"
    assert tiny.match("order me one, my friend").intent == "lead.buy"


def test_longer_and_heavier_phrases_win(tiny: IntentMatcher) -> None:
    result = tiny.match("order 20417")
    assert (result.intent, result.matched, result.score) == (
        "service.status",
        "order + {number}",
        0.96,
    )


def test_short_numbers_are_not_order_numbers(tiny: IntentMatcher) -> None:
    assert tiny.match("order 12").intent == "lead.buy"


def test_stems_and_typos(tiny: IntentMatcher) -> None:
    assert tiny.match("operators").intent == "human.agent"
    assert tiny.match("oprator").intent == "human.agent"  # one letter missing from the stem
    assert tiny.match("карточкой").intent == "lead.buy"
    assert tiny.match("orderr").intent == "lead.buy"  # a doubled letter is not a typo


def test_short_words_need_an_exact_match(tiny: IntentMatcher) -> None:
    assert tiny.match("ordr").intent == "none"


def test_below_threshold_is_none(tiny: IntentMatcher) -> None:
    assert tiny.match("hello").intent == "none"  # 0.8 x 0.6 = 0.48 < 0.5
    assert tiny.match("hello").score == 0.0


def test_intents_lists_every_catalog_intent(tiny: IntentMatcher) -> None:
    assert tiny.intents == ("human.agent", "service.status", "lead.buy", "other.greeting")


# --- catalog errors ----------------------------------------------------------------------------


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, '[settings]\nthreshold = "half\n')
    with pytest.raises(CatalogError, match="not valid TOML") as error:
        IntentMatcher.from_file(path)
    assert str(path) in str(error.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(CatalogError, match="cannot read") as error:
        IntentMatcher.from_file(path)
    assert str(path) in str(error.value)


def test_unknown_route_names_the_intent_and_the_route(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, '[intents."sales.buy"]\nroute = "sales"\nen = ["buy"]\n')
    with pytest.raises(CatalogError, match=r"'sales\.buy': unknown route 'sales'") as error:
        IntentMatcher.from_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("catalog", "problem"),
    [
        ('[intents."lead.x"]\nroute = "service"\nen = ["x"]\n', "must start with its route"),
        ('[intents."lead.x"]\nroute = "lead"\nen = ["{nope} x"]\n', "unknown group {nope}"),
        ('[intents."lead.x"]\nroute = "lead"\nen = ["x*y"]\n', "malformed word"),
        ('[intents."lead.x"]\nroute = "lead"\nen = ["b*"]\n', "too short"),
        ('[intents."lead.x"]\nroute = "lead"\nen = ["!!!"]\n', "empty phrase"),
        ('[intents."lead.x"]\nroute = "lead"\nen = "buy"\n', "must be a list of strings"),
        ('[intents."lead.x"]\nroute = "lead"\nfr = ["acheter"]\n', "unknown keys"),
        ('[intents."lead.x"]\nroute = "lead"\nweight = -1\n', "non-negative number"),
        ("[settings]\nthreshold = true\n", "settings.threshold"),
        ("[settings]\nlength_scores = []\n", "length_scores"),
        (
            '[groups.en]\nx = ["two words"]\n[intents."lead.x"]\nroute = "lead"\nen = ["{x}"]\n',
            "one word or stem",
        ),
        ("intents = 3\n", "[intents] must be a table"),
    ],
)
def test_catalog_mistakes_are_explained(tmp_path: Path, catalog: str, problem: str) -> None:
    path = write_catalog(tmp_path, catalog)
    with pytest.raises(CatalogError) as error:
        IntentMatcher.from_file(path)
    assert problem in str(error.value)
    assert str(path) in str(error.value)
