"""Intent matching: which route (lead, service, human, other) a customer message takes.

The knowledge lives in an operator-editable TOML catalog (`handlers/catalog/intents.toml`): per
intent and language, phrases made of word patterns. This module is the generic matcher:
normalisation, a typo-tolerant word lexicon built on rapidfuzz, and phrase scoring. Every match
is explainable: the intent, a score and the catalog words that decided it.

A phrase matches when each of its words is found in the message, close together (in the written
order if the phrase is quoted). A word matches exactly, as a stem (`refund*`), after squeezing
repeated letters, or with one typo (rapidfuzz OSA distance). A phrase's score is its intent's
weight times a score for its length (longer phrases are more specific), lowered for typos. The
best phrase decides; below the catalog's threshold the intent is "none" and the route "other".
"""

from __future__ import annotations

import itertools
import re
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast, get_args

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.language import detect_language

Route = Literal["lead", "service", "human", "other"]
ROUTES: Final[tuple[str, ...]] = get_args(Route)
NO_INTENT: Final = "none"

_NUMBER: Final = "{number}"  # built-in word: a token of 3+ digits ("#1042" normalises to 1042)
_NUMBER_MIN_DIGITS: Final = 3
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_COMBINING_MARKS = re.compile("[\u0300-\u036f]")  # stress marks and stray accents
_NON_WORD = re.compile(r"[\W_]+")
_NON_PATTERN = re.compile(r"[^\w*|{}]+|_")
_LONG_REPEAT = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "10000" keeps its zeros
_DOUBLE_LETTER = re.compile(r"([^\W\d_])\1")
_TOKEN_CACHE_LIMIT: Final = 50_000
_PLACEMENTS_LIMIT: Final = 256  # word combinations tried per phrase; real messages need few
_OCCURRENCES_LIMIT: Final = 6  # occurrences of one phrase word considered per message
_INTENT_KEYS: Final = frozenset({"route", "weight", "description"})

_Hit = tuple[int, float]  # (word pattern id, match quality)
_Hits = Mapping[int, list[tuple[int, float]]]  # word pattern id -> [(token position, quality)]


class CatalogError(Exception):
    """The intent catalog cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: str  # "lead.quote", ...; "none" when nothing matched well enough
    route: Route  # "other" when intent is "none"
    score: float  # 0..1, rounded to 3 decimals
    matched: str  # the catalog words that decided, joined with " + "; "" for none
    lang: str  # the language whose phrases were used


def normalise(text: str) -> str:
    """Casefold, `ё`→`е`, drop punctuation/symbols/emoji, squeeze 3+ repeated letters to 2."""
    text = _fold(text)
    text = _NON_WORD.sub(" ", _APOSTROPHES.sub("", text))  # "don't" -> "dont"
    return " ".join(_LONG_REPEAT.sub(r"\1\1", text).split())


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _COMBINING_MARKS.sub("", text).replace("ё", "е")


def _normalise_pattern(text: str) -> str:
    """Like `normalise`, but keeps the catalog syntax characters `*`, `|`, `{` and `}`."""
    return " ".join(_NON_PATTERN.sub(" ", _APOSTROPHES.sub("", _fold(text))).split())


def _squeeze(word: str) -> str:
    """ "helloo" and "hello" both become "helo": emphatic letters are not typos."""
    return _DOUBLE_LETTER.sub(r"\1", word)


@dataclass(frozen=True, slots=True)
class _Settings:
    languages: tuple[str, ...]
    threshold: float
    max_chars: int
    max_gap: int
    typo_min_length: int
    typo_quality: float
    length_scores: tuple[float, ...]

    def length_score(self, words: int) -> float:
        return self.length_scores[min(words, len(self.length_scores)) - 1]


class _Lexicon:
    """The word patterns of one language and how a message token resolves to them.

    Resolution is cached per token: chat traffic repeats words, so the fuzzy search (the only
    costly step) runs once per new word.
    """

    def __init__(self, typo_min_length: int, typo_quality: float) -> None:
        self.patterns: list[str] = []
        self._ids: dict[str, int] = {}
        self._exact: dict[str, int] = {}
        self._squeezed: dict[str, list[int]] = defaultdict(list)
        self._stems: dict[str, int] = {}
        self._typo_min_length = typo_min_length
        self._typo_quality = typo_quality
        self._long_words: list[str] = []
        self._long_stems: dict[int, list[str]] = {}
        self._stem_lengths: list[int] = []
        self._cache: dict[str, tuple[_Hit, ...]] = {}

    def add(self, pattern: str) -> int:
        if pattern not in self._ids:
            self._ids[pattern] = len(self.patterns)
            self.patterns.append(pattern)
            self._index(pattern, self._ids[pattern])
        return self._ids[pattern]

    def _index(self, pattern: str, word_id: int) -> None:
        if pattern.endswith("*"):
            self._stems[pattern[:-1]] = word_id
        elif pattern != _NUMBER:
            self._exact[pattern] = word_id
            self._squeezed[_squeeze(pattern)].append(word_id)

    def freeze(self) -> None:
        """Builds the typo-search tables once every pattern is added."""
        self._long_words = [word for word in self._exact if len(word) >= self._typo_min_length]
        by_length: dict[int, list[str]] = defaultdict(list)
        for stem in self._stems:
            if len(stem) >= self._typo_min_length:
                by_length[len(stem)].append(stem)
        self._long_stems = dict(by_length)
        self._stem_lengths = sorted({len(stem) for stem in self._stems})

    def lookup(self, token: str) -> tuple[_Hit, ...]:
        hits = self._cache.get(token)
        if hits is None:
            if len(self._cache) >= _TOKEN_CACHE_LIMIT:
                self._cache.clear()
            hits = self._cache[token] = self._resolve(token)
        return hits

    def _resolve(self, token: str) -> tuple[_Hit, ...]:
        if token.isdigit():
            number = self._ids.get(_NUMBER)
            fits = number is not None and len(token) >= _NUMBER_MIN_DIGITS
            return ((cast(int, number), 1.0),) if fits else ()
        exact = self._exact_ids(token) or self._exact_ids(_squeeze(token))
        if exact:
            return tuple((word_id, 1.0) for word_id in exact)
        return self._typo_hits(token)

    def _exact_ids(self, token: str) -> list[int]:
        return [*self._stem_ids(token), *self._word_ids(token)]

    def _stem_ids(self, token: str) -> list[int]:
        prefixes = (token[:length] for length in self._stem_lengths if length <= len(token))
        return [self._stems[prefix] for prefix in prefixes if prefix in self._stems]

    def _word_ids(self, token: str) -> list[int]:
        if token in self._exact:
            return [self._exact[token]]
        return self._squeezed.get(_squeeze(token), [])

    def _typo_hits(self, token: str) -> tuple[_Hit, ...]:
        if len(token) < self._typo_min_length:
            return ()
        word_ids = self._typo_words(token) | self._typo_stems(token)
        return tuple((word_id, self._typo_quality) for word_id in sorted(word_ids))

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


@dataclass(frozen=True, slots=True)
class _Phrase:
    intent: str
    slots: tuple[frozenset[int], ...]  # each slot: the word pattern ids that can fill it
    base_score: float
    ordered: bool


@dataclass(frozen=True, slots=True)
class _Placement:
    """Which message tokens fill a phrase's slots, and how well they match."""

    quality: float
    span: int
    word_ids: tuple[int, ...]

    @property
    def rank(self) -> tuple[float, int]:
        return (self.quality, -self.span)


@dataclass(frozen=True, slots=True)
class _Candidate:
    intent: str
    score: float
    words: int
    order: int  # minus the phrase's position in the catalog: the earlier phrase wins a tie
    matched: str

    @property
    def rank(self) -> tuple[float, int, int]:
        return (self.score, self.words, self.order)


class _LanguageModel:
    """The phrases of one language, indexed by word so a message visits only its candidates."""

    def __init__(self, lexicon: _Lexicon, phrases: Sequence[_Phrase], max_gap: int) -> None:
        self._lexicon = lexicon
        self._phrases = tuple(phrases)
        self._max_gap = max_gap
        self._full_masks = [(1 << len(phrase.slots)) - 1 for phrase in self._phrases]
        self._slot_index: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for phrase_id, phrase in enumerate(self._phrases):
            for slot_number, slot in enumerate(phrase.slots):
                for word_id in slot:
                    self._slot_index[word_id].append((phrase_id, 1 << slot_number))
        strongest_first = sorted(range(len(self._phrases)), key=self._strength, reverse=True)
        self._strength_rank = {phrase_id: rank for rank, phrase_id in enumerate(strongest_first)}

    def _strength(self, phrase_id: int) -> tuple[float, int, int]:
        phrase = self._phrases[phrase_id]
        return (phrase.base_score, len(phrase.slots), -phrase_id)

    def best(self, tokens: Sequence[str]) -> _Candidate | None:
        """The best phrase; ties go to the phrase with more words, then to the earlier one."""
        hits = self._hits(tokens)
        best: _Candidate | None = None
        for phrase_id in sorted(self._complete(hits), key=self._strength_rank.__getitem__):
            if best is not None and self._phrases[phrase_id].base_score < best.score:
                break  # strongest first: no phrase left can win
            candidate = self._candidate(phrase_id, hits)
            if candidate is not None and (best is None or candidate.rank > best.rank):
                best = candidate
        return best

    def _hits(self, tokens: Sequence[str]) -> _Hits:
        hits: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for position, token in enumerate(tokens):
            for word_id, quality in self._lexicon.lookup(token):
                hits[word_id].append((position, quality))
        return hits

    def _complete(self, hits: _Hits) -> list[int]:
        """Phrases with every slot filled somewhere in the message."""
        filled: dict[int, int] = defaultdict(int)
        for word_id in hits:
            for phrase_id, slot_bit in self._slot_index.get(word_id, ()):
                filled[phrase_id] |= slot_bit
        return [p for p, bits in filled.items() if bits == self._full_masks[p]]

    def _candidate(self, phrase_id: int, hits: _Hits) -> _Candidate | None:
        phrase = self._phrases[phrase_id]
        placement = self._place(phrase, hits)
        if placement is None:
            return None
        matched = " + ".join(self._lexicon.patterns[word_id] for word_id in placement.word_ids)
        score = phrase.base_score * placement.quality
        return _Candidate(phrase.intent, score, len(phrase.slots), -phrase_id, matched)

    def _place(self, phrase: _Phrase, hits: _Hits) -> _Placement | None:
        options = [_occurrences(slot, hits) for slot in phrase.slots]
        choices = itertools.islice(itertools.product(*options), _PLACEMENTS_LIMIT)
        placements = (self._placement(phrase, choice) for choice in choices)
        return max((p for p in placements if p is not None), key=lambda p: p.rank, default=None)

    def _placement(
        self, phrase: _Phrase, choice: Sequence[tuple[int, float, int]]
    ) -> _Placement | None:
        positions = [position for position, _quality, _word in choice]
        if len(set(positions)) < len(positions):
            return None  # one token cannot fill two slots
        if phrase.ordered and positions != sorted(positions):
            return None
        span = max(positions) - min(positions)
        if span > len(positions) - 1 + self._max_gap:
            return None
        quality = min(quality for _position, quality, _word in choice)
        return _Placement(quality, span, tuple(word for *_, word in choice))


def _occurrences(slot: frozenset[int], hits: _Hits) -> list[tuple[int, float, int]]:
    found = [
        (position, quality, word)
        for word in slot.intersection(hits)
        for position, quality in hits[word]
    ]
    return sorted(found)[:_OCCURRENCES_LIMIT]


class IntentMatcher:
    """Routes a message to the best-matching catalog intent, or "none" below the threshold."""

    def __init__(
        self, settings: _Settings, models: Mapping[str, _LanguageModel], routes: Mapping[str, Route]
    ) -> None:
        self._settings = settings
        self._models = dict(models)
        self._routes = dict(routes)

    @classmethod
    def from_file(cls, path: Path) -> IntentMatcher:
        """Raises CatalogError naming the file and the problem."""
        return _CatalogLoader(path).load()

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(self._routes)

    def match(self, text: str, lang: str | None = None) -> IntentMatch:
        """The best intent for `text` using the phrases of `lang`.

        `lang` None, or a language the catalog lacks, is detected from the text. When the given
        language finds nothing but the text is written in another catalog language (an English
        "talk to a human" in a Russian conversation), that language is tried too.
        """
        tokens = self._tokens(text)
        written_in = self._known(detect_language(text, default=lang or ""))
        lang = lang if lang in self._models else written_in
        best = self._best(tokens, lang)
        if best is None and written_in != lang:
            lang, best = written_in, self._best(tokens, written_in)
        if best is None:
            return IntentMatch(NO_INTENT, "other", 0.0, "", lang)
        score = round(min(best.score, 1.0), 3)
        return IntentMatch(best.intent, self._routes[best.intent], score, best.matched, lang)

    def _best(self, tokens: Sequence[str], lang: str) -> _Candidate | None:
        best = self._models[lang].best(tokens)
        return best if best is not None and best.score >= self._settings.threshold else None

    def _known(self, lang: str) -> str:
        return lang if lang in self._models else self._settings.languages[0]

    def _tokens(self, text: str) -> list[str]:
        # Cut before normalising too: a 100 KB message costs no more than a long one.
        limit = self._settings.max_chars
        return normalise(text[: limit * 4])[:limit].split()


class _CatalogLoader:
    """Reads and validates the TOML catalog; every error names the file and the problem."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self) -> IntentMatcher:
        data = self._read()
        settings = self._settings(self._table(data, "settings", "[settings]"))
        intents = self._table(data, "intents", "[intents]")
        routes = {name: self._route(name, self._intent(intents, name)) for name in intents}
        models = {lang: self._model(data, intents, lang, settings) for lang in settings.languages}
        return IntentMatcher(settings, models, routes)

    def fail(self, problem: str) -> CatalogError:
        return CatalogError(f"{self._path}: {problem}")

    def _read(self) -> dict[str, object]:
        try:
            return tomllib.loads(self._path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise self.fail(f"cannot read the catalog: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise self.fail(f"not valid TOML: {exc}") from exc

    def _table(self, data: Mapping[str, object], key: str, where: str) -> dict[str, object]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{where} must be a table")
        return cast(dict[str, object], value)

    def _intent(self, intents: Mapping[str, object], name: str) -> dict[str, object]:
        return self._table(intents, name, f"[intents.{name!r}]")

    def _settings(self, table: Mapping[str, object]) -> _Settings:
        languages = tuple(self._strings(table.get("languages", ["en", "ru"]), "settings.languages"))
        scores = self._numbers(table.get("length_scores", [0.6, 0.8, 0.9, 1.0]))
        if not languages:
            raise self.fail("settings.languages must name at least one language")
        return _Settings(
            languages=languages,
            threshold=self._number(table, "threshold", 0.5, "settings"),
            max_chars=int(self._number(table, "max_chars", 500, "settings")),
            max_gap=int(self._number(table, "max_gap", 4, "settings")),
            typo_min_length=int(self._number(table, "typo_min_length", 6, "settings")),
            typo_quality=self._number(table, "typo_quality", 0.9, "settings"),
            length_scores=scores,
        )

    def _number(self, table: Mapping[str, object], key: str, default: float, where: str) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(f"{where}.{key} must be a non-negative number, got {value!r}")
        return float(value)

    def _numbers(self, value: object) -> tuple[float, ...]:
        numbers = value if isinstance(value, list) else []
        if not numbers or not all(isinstance(v, int | float) for v in numbers):
            raise self.fail("settings.length_scores must be a non-empty list of numbers")
        return tuple(float(v) for v in numbers)

    def _strings(self, value: object, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(f"{where} must be a list of strings")
        return cast(list[str], value)

    def _route(self, name: str, table: Mapping[str, object]) -> Route:
        route = table.get("route")
        if route not in ROUTES:
            expected = ", ".join(ROUTES)
            raise self.fail(f"intent {name!r}: unknown route {route!r} (one of {expected})")
        if name.split(".")[0] != route:
            raise self.fail(f"intent {name!r}: the name must start with its route, {route!r}")
        return cast(Route, route)

    def _model(
        self,
        data: Mapping[str, object],
        intents: Mapping[str, object],
        lang: str,
        settings: _Settings,
    ) -> _LanguageModel:
        lexicon = _Lexicon(settings.typo_min_length, settings.typo_quality)
        compiler = _PhraseCompiler(
            lexicon, self._groups(data, lang), self._stopwords(data, lang), self.fail
        )
        phrases = [
            phrase
            for name in intents
            for phrase in self._phrases(name, self._intent(intents, name), lang, compiler, settings)
        ]
        lexicon.freeze()
        return _LanguageModel(lexicon, phrases, settings.max_gap)

    def _groups(self, data: Mapping[str, object], lang: str) -> dict[str, list[str]]:
        groups = self._table(self._table(data, "groups", "[groups]"), lang, f"[groups.{lang}]")
        return {
            name: self._strings(words, f"groups.{lang}.{name}") for name, words in groups.items()
        }

    def _stopwords(self, data: Mapping[str, object], lang: str) -> frozenset[str]:
        words = self._table(data, "stopwords", "[stopwords]").get(lang, [])
        return frozenset(normalise(word) for word in self._strings(words, f"stopwords.{lang}"))

    def _phrases(
        self,
        name: str,
        table: Mapping[str, object],
        lang: str,
        compiler: _PhraseCompiler,
        settings: _Settings,
    ) -> Iterator[_Phrase]:
        unknown = set(table) - _INTENT_KEYS - set(settings.languages)
        if unknown:
            raise self.fail(f"intent {name!r}: unknown keys {sorted(unknown)}")
        weight = self._number(table, "weight", 1.0, f"intents.{name!r}")
        for text in self._strings(table.get(lang, []), f"intents.{name!r}.{lang}"):
            slots, ordered = compiler.compile(text, f"intent {name!r} ({lang})")
            yield _Phrase(name, slots, weight * settings.length_score(len(slots)), ordered)


class _PhraseCompiler:
    """Turns 'talk|speak to a {person}' into slots of word pattern ids."""

    def __init__(
        self,
        lexicon: _Lexicon,
        groups: Mapping[str, list[str]],
        stopwords: frozenset[str],
        fail: Callable[[str], CatalogError],
    ) -> None:
        self._lexicon = lexicon
        self._groups = groups
        self._stopwords = stopwords
        self._fail = fail

    def compile(self, text: str, where: str) -> tuple[tuple[frozenset[int], ...], bool]:
        """The phrase's slots, and whether they must appear in order (a "quoted phrase")."""
        stripped = text.strip()
        ordered = len(stripped) > 1 and stripped[0] == stripped[-1] == '"'
        words = _normalise_pattern(stripped.strip('"')).split()
        content = [word for word in words if word not in self._stopwords] or words
        if not content:
            raise self._fail(f"{where}: empty phrase {text!r}")
        return tuple(self._slot(word, text, where) for word in content), ordered

    def _slot(self, word: str, text: str, where: str) -> frozenset[int]:
        patterns = [p for alternative in word.split("|") for p in self._expand(alternative, where)]
        if not patterns:
            raise self._fail(f"{where}: empty alternative in phrase {text!r}")
        return frozenset(self._lexicon.add(pattern) for pattern in patterns)

    def _expand(self, alternative: str, where: str) -> list[str]:
        if alternative.startswith("{") and alternative.endswith("}"):
            return self._group(alternative[1:-1], where)
        if "{" in alternative or "}" in alternative or "*" in alternative[:-1]:
            raise self._fail(f"{where}: malformed word {alternative!r}")
        if alternative.endswith("*") and len(alternative) < 3:
            raise self._fail(f"{where}: stem {alternative!r} is too short (2 letters at least)")
        return [alternative] if alternative else []

    def _group(self, name: str, where: str) -> list[str]:
        if f"{{{name}}}" == _NUMBER:
            return [_NUMBER]
        if name not in self._groups:
            raise self._fail(f"{where}: unknown group {{{name}}}")
        patterns = [_normalise_pattern(word) for word in self._groups[name]]
        malformed = [p for p in patterns if not p or any(c in p for c in " {}|")]
        if malformed:
            raise self._fail(
                f"{where}: group {{{name}}} must list one word or stem per entry, got {malformed}"
            )
        return patterns
