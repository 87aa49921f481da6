"""Which language a message is written in, and which language to answer it in.

A message's language is decided on the words that carry one, never on the share of Latin
letters: a Cyrillic word is Russian; a Latin word is English only when it is a real English
word, far more common in English text than in Russian text ("need", "price", "the"). Brand
and model names ("HP ProLiant", "Lenovo", "iPhone 15"), email addresses, URLs, numbers and
units ("5GB", "10 kg") carry no language; in a message with Cyrillic words, a capitalised
Latin word is a name, not English. A conversation keeps its language unless the customer
clearly switched: a message with no language-carrying words ("ok", "5", an email alone, an
emoji) keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from bot.model import InboundMessage
from bot.records import Conversation
from bot.words import zipf

LANGUAGES: Final = ("en", "ru")
FLOW_STATES: Final = ("lead", "service")
MIN_WORDS_IN_FLOW: Final = 3  # a name like "Anna Berg" typed into a Russian flow keeps it Russian
ENGLISH_ZIPF: Final = 3.0  # a Latin word this common in English text may be English...
ENGLISH_MARGIN: Final = 1.5  # ...when it is this much more common there than in Russian text
_SAMPLE: Final = 2000
# Units and counts written in Latin letters inside any language's text.
UNITS: Final = frozenset(
    {
        *("pcs", "pc", "psc", "x", "k", "mln", "bn"),
        *("mg", "g", "kg", "t", "mm", "cm", "m", "km", "ml", "l"),
        *("kb", "mb", "gb", "tb", "mbit", "gbit", "hz", "mhz", "ghz", "w", "kw", "kwh", "v", "mah"),
        *("usd", "eur", "rub"),
    }
)
# "/help", "/start@ShopBot": a command's name is Latin whatever the customer's language is.
COMMAND_NAME = re.compile(r"^/\w+(?:@\w+)?")
# Addresses and links carry no language: mail addresses, URLs, bare domains ("vektor.example").
_ADDRESS = re.compile(
    r"\W*(?:\S+@\S+|(?:https?://|www\.)\S+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:/\S*)?)\W*",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)?")
_CYRILLIC_WORD = re.compile(r"[а-яё]+(?:['’][а-яё]+)?", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?", re.IGNORECASE)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-zA-Z\u00c0-\u024f]")


@dataclass(frozen=True, slots=True)
class Evidence:
    """The language-carrying words of a message, counted per language."""

    ru: int
    en: int
    cyrillic_letters: int = 0  # outside addresses and links
    latin_letters: int = 0

    def count(self, lang: str) -> int:
        return self.ru if lang == "ru" else self.en if lang == "en" else 0

    @property
    def leader(self) -> str | None:
        """The language with more words; None on a tie (none at all included)."""
        if self.ru == self.en:
            return None
        return "ru" if self.ru > self.en else "en"


def evidence(text: str) -> Evidence:
    """Counts the words that carry a language (see the module's docstring)."""
    russian = english = capitalised = cyrillic = latin = 0
    for ru, en, capital, cyr, lat in map(_chunk_counts, text[:_SAMPLE].split()):
        russian += ru
        english += en
        capitalised += capital
        cyrillic += cyr
        latin += lat
    # In Russian text a capitalised Latin word is a name ("Apple", "HP"), not English.
    return Evidence(russian, english + (0 if russian else capitalised), cyrillic, latin)


RUSSIAN, ENGLISH, CAPITALISED_ENGLISH, NO_LANGUAGE = "ru", "en", "En", ""


@lru_cache(maxsize=65_536)
def _chunk_counts(chunk: str) -> tuple[int, int, int, int, int]:
    """Russian, English and capitalised English words, Cyrillic and Latin letters, in one
    whitespace-separated chunk."""
    if _ADDRESS.fullmatch(chunk):
        return (0, 0, 0, 0, 0)
    kinds = [_kind(token) for token in _TOKEN.findall(chunk)]
    cyrillic, latin = len(_CYRILLIC.findall(chunk)), len(_LATIN.findall(chunk))
    words = (kinds.count(RUSSIAN), kinds.count(ENGLISH), kinds.count(CAPITALISED_ENGLISH))
    return (*words, cyrillic, latin)


def _kind(token: str) -> str:
    """Which language one word carries, if any."""
    if _CYRILLIC_WORD.fullmatch(token):
        return RUSSIAN
    if not _LATIN_WORD.fullmatch(token):
        return NO_LANGUAGE  # digits (a model, an amount, "5GB"), another alphabet, mixed scripts
    if token[:1].islower() and not token.islower():
        return NO_LANGUAGE  # "iPhone", "eBay": a brand's spelling
    if not _english_word(token.casefold().replace("’", "'")):
        return NO_LANGUAGE
    return ENGLISH if token.islower() else CAPITALISED_ENGLISH


def _english_word(word: str) -> bool:
    if word in UNITS:
        return False
    english = zipf(word, "en")
    return english >= ENGLISH_ZIPF and english - zipf(word, "ru") >= ENGLISH_MARGIN


def detect_language(text: str, default: str = "en") -> str:
    """ "ru" or "en" by the words that carry a language; without any, by the letters: mostly
    Cyrillic "ru", mostly Latin "en"; with no letters at all, `default`."""
    found = evidence(text)
    if found.leader is not None:
        return found.leader
    # On a tie Russian wins: Russian text borrows Latin terms ("нужен office"), English text
    # hardly ever borrows a Cyrillic word.
    if found.ru:
        return "ru"
    # The older rule, for texts without language-carrying words: "Hello" is English.
    if found.cyrillic_letters == found.latin_letters:
        return default
    return "ru" if found.cyrillic_letters > found.latin_letters else "en"


def language_for(message: InboundMessage, conversation: Conversation | None, default: str) -> str:
    """The reply language for `message`.

    A new conversation takes the message's language (or the sender's client language when the
    text carries none). An ongoing one keeps its language unless the message's words are
    clearly in another: more words of the other language than of its own, and inside a flow
    at least three of them (a name like "Anna Berg" typed into a Russian lead flow keeps it
    Russian).
    """
    text = _without_command(message.text.strip())
    if conversation is None:
        return detect_language(text, _hint_or(message, default))
    current = conversation.current.language
    found = evidence(text)
    other = found.leader
    if other is None or other == current:
        return current
    in_flow = conversation.current.state in FLOW_STATES
    return other if not in_flow or found.count(other) >= MIN_WORDS_IN_FLOW else current


def _without_command(text: str) -> str:
    """The text a command carries: "/help" says nothing of the language, nor does a one-word
    deep-link payload ("/start spring_promo"); "/lead хочу 10 ноутбуков" does."""
    rest = COMMAND_NAME.sub("", text, count=1)
    if rest is text:
        return text
    return rest if len(rest.split()) > 1 else ""


def _hint_or(message: InboundMessage, default: str) -> str:
    hint = (message.sender.language_hint or "").split("-")[0].lower()
    return hint if hint in LANGUAGES else default
