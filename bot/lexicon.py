"""The word patterns of one catalog language, and how a message token resolves to them.

A token matches a pattern exactly, after squeezing doubled letters ("helloo"), as a stem
(`refund*`), as a form of a dictionary word (`хотеть~`: хочу, хотим, хотел; Russian, by
pymorphy3), or with one typo (rapidfuzz OSA distance). Neither a squeezed letter nor a
typo-correction turns one real word into another: a token that is itself a known word of the
language (wordfreq's full word list, or the Russian dictionary) is never read as another
("contract" is not "contact", "to" is not "too").

Built-in words: `{number}` a token of 3+ digits (an order or ticket number), `{count}` a
number of up to 4 digits (a quantity), `{thing}` a word that names something (see
`Lexicon.is_thing`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot import words

NUMBER: Final = "{number}"  # a token of 3+ digits ("#1042" normalises to 1042)
COUNT: Final = "{count}"  # a quantity, up to 4 digits: "20 chairs", "3 сервера"
THING: Final = "{thing}"  # a word naming something: "chairs", "ноутбуков", "ThinkPad"
BUILT_IN: Final = frozenset({NUMBER, COUNT, THING})
NUMBER_MIN_DIGITS: Final = 3
COUNT_MAX_DIGITS: Final = 4  # longer numbers are references (an order, a phone), not amounts
THING_MIN_LETTERS: Final = 3
# An English word this common is a function word or a general verb ("you", "know", "get"),
# never the name of something to buy.
THING_MAX_ZIPF_EN: Final = 5.5
_TOKEN_CACHE_LIMIT: Final = 50_000
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_COMBINING_MARKS = re.compile("[\u0300-\u036f]")  # stress marks and stray accents
_NON_WORD = re.compile(r"[\W_]+")
_NON_PATTERN = re.compile(r"[^\w*~|{}]+|_")
_LONG_REPEAT = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "10000" keeps its zeros
_DOUBLE_LETTER = re.compile(r"([^\W\d_])\1")
_LATIN = re.compile(r"[a-z]+")
# A participle hyphenated to the word before it makes an adjective: "noise-cancelling
# headsets", "hand-painted tiles" name a thing, and "cancelling" there is no verb.
_COMPOUND_PARTICIPLE = re.compile(r"\b([a-z]{4,})-([a-z]+(?:ing|ed))\b")

Hit = tuple[int, float]  # (word pattern id, match quality)


def normalise(text: str) -> str:
    """Casefold, `ё`→`е`, join a hyphenated participle to its word ("noise-cancelling"), drop
    punctuation/symbols/emoji, squeeze 3+ repeated letters to 2."""
    text = _fold(text)
    if "-" in text:  # most messages have none: skip the scan
        text = _COMPOUND_PARTICIPLE.sub(r"\1\2", text)
    text = _NON_WORD.sub(" ", _APOSTROPHES.sub("", text))  # "don't" -> "dont"
    return " ".join(_LONG_REPEAT.sub(r"\1\1", text).split())


def normalise_pattern(text: str) -> str:
    """Like `normalise`, but keeps the catalog syntax characters `*`, `~`, `|`, `{` and `}`."""
    return " ".join(_NON_PATTERN.sub(" ", _APOSTROPHES.sub("", _fold(text))).split())


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _COMBINING_MARKS.sub("", text).replace("ё", "е")


def squeeze(word: str) -> str:
    """ "helloo" and "hello" both become "helo": emphatic letters are not typos."""
    return _DOUBLE_LETTER.sub(r"\1", word)


class WordFacts(NamedTuple):
    thing: bool
    noun: bool
    infinitive: bool


@dataclass(frozen=True, slots=True)
class TypoRule:
    min_length: int  # shorter words and stems match exactly only
    quality: float  # score multiplier of a typo match


class Lexicon:
    """The word patterns of one language and how a message token resolves to them.

    Resolution is cached per token: chat traffic repeats words, so the fuzzy search (the only
    costly step) runs once per new word.
    """

    def __init__(self, lang: str, typos: TypoRule, never_things: frozenset[str]) -> None:
        self.lang = lang
        self.patterns: list[str] = []
        self._ids: dict[str, int] = {}
        self._exact: dict[str, int] = {}
        self._squeezed: dict[str, list[int]] = defaultdict(list)
        self._stems: dict[str, int] = {}
        self._lemmas: dict[str, int] = {}
        self._typos = typos
        self._never_things = never_things
        self._never_stems = tuple(word[:-1] for word in never_things if word.endswith("*"))
        self._long_words: list[str] = []
        self._long_stems: dict[int, list[str]] = {}
        self._stem_lengths: list[int] = []
        self._cache: dict[str, tuple[Hit, ...]] = {}
        self._facts: dict[str, WordFacts] = {}

    def add(self, pattern: str) -> int:
        if pattern not in self._ids:
            self._ids[pattern] = len(self.patterns)
            self.patterns.append(pattern)
            self._index(pattern, self._ids[pattern])
        return self._ids[pattern]

    def id_of(self, pattern: str) -> int | None:
        return self._ids.get(pattern)

    def _index(self, pattern: str, word_id: int) -> None:
        if pattern.endswith("*"):
            self._stems[pattern[:-1]] = word_id
        elif pattern.endswith("~"):
            self._lemmas[pattern[:-1]] = word_id
        elif pattern not in BUILT_IN:
            self._exact[pattern] = word_id
            self._squeezed[squeeze(pattern)].append(word_id)

    def freeze(self) -> None:
        """Builds the typo-search tables once every pattern is added."""
        shortest = self._typos.min_length
        self._long_words = [word for word in self._exact if len(word) >= shortest]
        by_length: dict[int, list[str]] = defaultdict(list)
        for stem in self._stems:
            if len(stem) >= shortest:
                by_length[len(stem)].append(stem)
        self._long_stems = dict(by_length)
        self._stem_lengths = sorted({len(stem) for stem in self._stems})

    def lookup(self, token: str) -> tuple[Hit, ...]:
        hits = self._cache.get(token)
        if hits is None:
            if len(self._cache) >= _TOKEN_CACHE_LIMIT:
                self._cache.clear()
            hits = self._cache[token] = self._resolve(token)
        return hits

    def facts(self, token: str) -> WordFacts:
        """Whether the word may name a thing, is a (Russian) noun, is a (Russian) infinitive;
        cached per word."""
        known = self._facts.get(token)
        if known is None:
            if len(self._facts) >= _TOKEN_CACHE_LIMIT:
                self._facts.clear()
            known = self._facts[token] = WordFacts(
                self._names_a_thing(token), self.is_noun(token), self.is_infinitive(token)
            )
        return known

    def is_thing(self, token: str) -> bool:
        """A word that may name something to buy: not one of the catalog's words, not in the
        catalog's group `nothing` or its stopwords, and in Russian a noun (by the dictionary)
        or a Latin name ("ThinkPad"), in English no function word or general verb."""
        return self.facts(token).thing

    def is_noun(self, token: str) -> bool:
        """A Russian noun by the dictionary (English words are not told apart)."""
        return self.lang == "ru" and not _LATIN.fullmatch(token) and words.is_noun(token)

    def is_infinitive(self, token: str) -> bool:
        """A Russian verb's infinitive ("сделать", "узнать"): what follows is its object."""
        return self.lang == "ru" and not _LATIN.fullmatch(token) and words.is_infinitive(token)

    def _names_a_thing(self, token: str) -> bool:
        if len(token) < THING_MIN_LETTERS or not token.isalpha() or token in self._never_things:
            return False
        if self.lookup(token) or token.startswith(self._never_stems):
            return False
        if _LATIN.fullmatch(token):
            return self.lang != "en" or words.zipf(token, "en") < THING_MAX_ZIPF_EN
        return self.lang == "ru" and words.is_noun(token)

    def _resolve(self, token: str) -> tuple[Hit, ...]:
        if token.isdigit():
            return self._number_hits(token)
        exact = self._exact_ids(token)
        squeezed = squeeze(token)  # "purcchase": the word "purchase" and the stem "purchas*"
        if squeezed != token:
            exact += [word_id for word_id in self._exact_ids(squeezed) if word_id not in exact]
        if exact:
            return tuple((word_id, 1.0) for word_id in exact)
        return self._typo_hits(token)

    def _number_hits(self, token: str) -> tuple[Hit, ...]:
        found = [self._ids.get(COUNT) if len(token) <= COUNT_MAX_DIGITS else None]
        if len(token) >= NUMBER_MIN_DIGITS:
            found.append(self._ids.get(NUMBER))
        return tuple((word_id, 1.0) for word_id in found if word_id is not None)

    def _exact_ids(self, token: str) -> list[int]:
        return [*self._stem_ids(token), *self._word_ids(token), *self._lemma_ids(token)]

    def _stem_ids(self, token: str) -> list[int]:
        prefixes = (token[:length] for length in self._stem_lengths if length <= len(token))
        return [self._stems[prefix] for prefix in prefixes if prefix in self._stems]

    def _word_ids(self, token: str) -> list[int]:
        if token in self._exact:
            return [self._exact[token]]
        if words.is_known_word(token, self.lang):
            return []  # a word of its own: "to" is not "too", "god" not "good"
        return self._squeezed.get(squeeze(token), [])

    def _lemma_ids(self, token: str) -> list[int]:
        if not self._lemmas:
            return []
        return [self._lemmas[lemma] for lemma in words.lemmas(token) if lemma in self._lemmas]

    def _typo_hits(self, token: str) -> tuple[Hit, ...]:
        if len(token) < self._typos.min_length or words.is_known_word(token, self.lang):
            return ()
        word_ids = self._typo_words(token) | self._typo_stems(token)
        return tuple((word_id, self._typos.quality) for word_id in sorted(word_ids))

    def _typo_words(self, token: str) -> set[int]:
        return {self._exact[word] for word in _within_one_edit(token, self._long_words)}

    def _typo_stems(self, token: str) -> set[int]:
        # The token's start is cut at the stem's length, one shorter (a letter missing) and one
        # longer (a letter too many), and compared with the stems of that length.
        found: set[int] = set()
        for length, stems in self._long_stems.items():
            if length - 1 > len(token):
                continue  # too short to be this stem with a letter missing
            for cut in (length - 1, length, length + 1):
                close = _within_one_edit(token[:cut], stems)
                found.update(self._stems[stem] for stem in close if _inner_typo(token, stem))
        return found


def _inner_typo(token: str, stem: str) -> bool:
    """False when only the stem's last letter differs: "кредите" is not a typo of "кредитк*"."""
    return not token.startswith(stem[:-1])


def _within_one_edit(text: str, choices: Sequence[str]) -> list[str]:
    """Choices at most one insertion, deletion, substitution or swap away (C speed)."""
    found = process.extract(text, choices, scorer=OSA.distance, score_cutoff=1, limit=None)
    return [choice for choice, _distance, _index in found]
