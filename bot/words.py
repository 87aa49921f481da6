"""What we know about single words of English and Russian, from full word lists.

- How common a word is in each language (wordfreq's Zipf scale: 7 for "the", 3 for a word seen
  once in a million, 0 for one it has never seen). It decides whether a Latin word carries
  English (common in English text, rare in Russian text: "need", "price") or is a name that
  Russian text uses as much as English does ("Lenovo", "iPhone", "HP"), and whether a word is
  a real word that a typo-correction must leave alone ("contract" is no typo of "contact").
- The dictionary forms (lemmas) of a Russian word (pymorphy3 with its OpenCorpora dictionary):
  "нужны" → "нужный", "ищу" → "искать".

Every answer is cached per word: chat traffic repeats words, and the router must stay fast.
The word lists are read from a file per language (bot/word_store.py: wordfreq's own answers
without its lists in memory); they and the dictionary are opened on first use (the composition
root warms them up).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import pymorphy3

from bot.word_store import WordStore, open_store

LANGUAGES: Final = ("en", "ru")
KNOWN_ZIPF: Final = 3.0  # about once in a million words: a real word, not a typo
_CACHE: Final = 65_536


@lru_cache(maxsize=_CACHE)
def zipf(word: str, lang: str) -> float:
    """How common `word` (lower case) is in `lang` text, on the Zipf scale; 0 when unseen."""
    return _store(lang).zipf(word)


@lru_cache(maxsize=_CACHE)
def is_known_word(word: str, lang: str) -> bool:
    """A real word of `lang`: frequent enough in its word list, or (Russian) in the dictionary."""
    if zipf(word, lang) >= KNOWN_ZIPF:
        return True
    return lang == "ru" and _morphology().word_is_known(word)


@lru_cache(maxsize=_CACHE)
def lemmas(word: str) -> frozenset[str]:
    """The dictionary forms a Russian word may be of ("стали": "стать" and "сталь").

    Words outside the dictionary are guessed from their endings, as pymorphy3 does; `ё` is
    written `е`, as everywhere in the router.
    """
    return frozenset(p.normal_form.replace("ё", "е") for p in _morphology().parse(word))


@lru_cache(maxsize=_CACHE)
def is_noun(word: str) -> bool:
    """Whether the likeliest reading of a Russian word is a noun ("ноутбуков", "сервера")."""
    parses = _morphology().parse(word)
    verb = any(parse.tag.POS in ("INFN", "VERB") for parse in parses)
    return bool(parses) and parses[0].tag.POS == "NOUN" and not verb


@lru_cache(maxsize=_CACHE)
def is_infinitive(word: str) -> bool:
    """Whether the likeliest reading of a Russian word is a verb's infinitive ("узнать").
    A form of "быть" never is: the dictionary reads "есть" first as "to eat", a customer
    means "there is" ("есть кресла?")."""
    parses = _morphology().parse(word)
    return (
        bool(parses)
        and parses[0].tag.POS == "INFN"
        and not any(parse.normal_form == "быть" for parse in parses)
    )


@lru_cache(maxsize=len(LANGUAGES))
def _store(lang: str) -> WordStore:
    return open_store(lang)


@lru_cache(maxsize=1)
def _morphology() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def warm_up() -> None:
    """Opens the word lists (building their files the first time) and loads the dictionary
    now rather than in the first customer's turn."""
    for lang in LANGUAGES:
        zipf("the", lang)
    _morphology()
