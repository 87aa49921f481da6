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
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast, get_args

from bot import words
from bot.language import detect_language
from bot.lexicon import (
    BUILT_IN,
    COUNT,
    THING,
    Lexicon,
    TypoRule,
    WordFacts,
    normalise,
    normalise_pattern,
)
from bot.negation import Negation, Tokens

__all__ = ["ROUTES", "CatalogError", "IntentMatch", "IntentMatcher", "Route", "normalise"]

Route = Literal["lead", "service", "human", "other"]
ROUTES: Final[tuple[str, ...]] = get_args(Route)
NO_INTENT: Final = "none"

_PLACEMENTS_LIMIT: Final = 256  # word combinations tried per phrase; real messages need few
_OCCURRENCES_LIMIT: Final = 6  # occurrences of one phrase word considered per message
THING_GAP: Final = 1  # "нужны офисные кресла": a {thing} stands right by its phrase's words
_INTENT_KEYS: Final = frozenset({"route", "weight", "description"})

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


@dataclass(frozen=True, slots=True)
class _Phrase:
    intent: str
    slots: tuple[frozenset[int], ...]  # each slot: the word pattern ids that can fill it
    base_score: float
    ordered: bool
    whole: bool = False  # the message must be this phrase and nothing else ("=how much")
    tight: bool = False  # at most THING_GAP words between its words ({thing} or {count})


@dataclass(frozen=True, slots=True)
class _Compiled:
    slots: tuple[frozenset[int], ...]
    ordered: bool
    whole: bool


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


@dataclass(frozen=True, slots=True)
class _Grammar:
    """What a language model knows beyond its phrases."""

    negation: Negation = field(default_factory=Negation)
    cancelled_routes: frozenset[str] = frozenset()  # the routes a negation scope can cancel
    stopwords: frozenset[str] = frozenset()
    # Verbs whose object is a thing, even after "to": the catalog's groups `supply` and `buy`.
    thing_verbs: frozenset[int] = frozenset()
    # Words after which the next word is a verb, never a thing: "to" in "I need to know".
    verb_markers: frozenset[str] = frozenset()
    # Words that open a phrase of their own up to its noun: "для томатного супа".
    prepositions: frozenset[str] = frozenset()


class _ThingReader:
    """Reads a message word by word and tells which words may be a {thing}: not a catalog
    word, and not where the sentence is about something else:

    - after a verb ("need to make a list": the list is what is made; "to" in English, an
      infinitive in Russian), unless the verb is one of supplying or buying ("looking to
      equip a classroom");
    - right after another noun ("рецепт приготовления": its complement);
    - inside a prepositional phrase up to its noun ("нужны для томатного супа": what for).
    """

    def __init__(self, lexicon: Lexicon, grammar: _Grammar) -> None:
        self._lexicon = lexicon
        self._grammar = grammar
        self._after_verb = False
        self._after_noun = False
        self._in_preposition = False

    def things(self, tokens: Sequence[str]) -> list[int]:
        """The positions of the words that may be a thing."""
        found = []
        for position, token in enumerate(tokens):
            if self._names_a_thing(token, self._lexicon.lookup(token)):
                found.append(position)
        return found

    def _names_a_thing(self, token: str, found: Sequence[tuple[int, float]]) -> bool:
        facts = self._lexicon.facts(token)
        blocked = bool(found) or self._after_verb or self._after_noun or self._in_preposition
        self._step(token, found, facts)
        return facts.thing and not blocked

    def _step(self, token: str, found: Sequence[tuple[int, float]], facts: WordFacts) -> None:
        grammar = self._grammar
        supplying = any(word_id in grammar.thing_verbs for word_id, _quality in found)
        opens_verb = token in grammar.verb_markers or facts.infinitive
        self._after_verb = not supplying and (self._after_verb or opens_verb)
        if token in grammar.stopwords and token not in grammar.prepositions:
            return
        noun = facts.noun
        self._after_noun = noun
        if token in grammar.prepositions:
            self._in_preposition = True
        elif self._in_preposition and noun:
            self._in_preposition = False


class _LanguageModel:
    """The phrases of one language, indexed by word so a message visits only its candidates."""

    def __init__(
        self, lexicon: Lexicon, phrases: Sequence[_Phrase], max_gap: int, grammar: _Grammar
    ) -> None:
        self._lexicon = lexicon
        self._phrases = tuple(phrases)
        self._max_gap = max_gap
        self._grammar = grammar
        self._thing = lexicon.id_of(THING)
        # The phrases with {thing}, and the bit of its slot.
        self._thing_slots = [
            (phrase_id, 1 << number)
            for phrase_id, phrase in enumerate(phrases)
            for number, slot in enumerate(phrase.slots)
            if self._thing is not None and self._thing in slot
        ]
        negating = grammar.negation.negating
        self._negating = negating
        self._negatable = [self._negatable_phrase(p, negating) for p in self._phrases]
        self._full_masks = [(1 << len(phrase.slots)) - 1 for phrase in self._phrases]
        self._slot_index: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for phrase_id, phrase in enumerate(self._phrases):
            for slot_number, slot in enumerate(phrase.slots):
                for word_id in slot:
                    self._slot_index[word_id].append((phrase_id, 1 << slot_number))
        strongest_first = sorted(range(len(self._phrases)), key=self._strength, reverse=True)
        self._strength_rank = {phrase_id: rank for rank, phrase_id in enumerate(strongest_first)}

    def _negatable_phrase(self, phrase: _Phrase, negating: frozenset[int]) -> bool:
        """A phrase of a route negation cancels, not itself about a negation ("not working")."""
        route = phrase.intent.split(".")[0]
        cancelled = route in self._grammar.cancelled_routes
        return cancelled and not any(slot & negating for slot in phrase.slots)

    def _strength(self, phrase_id: int) -> tuple[float, int, int]:
        phrase = self._phrases[phrase_id]
        return (phrase.base_score, len(phrase.slots), -phrase_id)

    def best(self, tokens: Tokens) -> _Candidate | None:
        """The best phrase; ties go to the phrase with more words, then to the earlier one.

        A phrase whose words a negation scope covers does not match ("dont want to buy").
        """
        hits = self._hits(tokens.words)
        complete = self._complete(hits, tokens.words)
        negated = self._negated(hits, tokens) if complete else frozenset()
        best: _Candidate | None = None
        for phrase_id in sorted(complete, key=self._strength_rank.__getitem__):
            phrase = self._phrases[phrase_id]
            if best is not None and phrase.base_score < best.score:
                break  # strongest first: no phrase left can win
            if phrase.whole and self._content_words(tokens) != len(phrase.slots):
                continue
            blocked = negated if self._negatable[phrase_id] else frozenset()
            candidate = self._candidate(phrase_id, hits, blocked, tokens)
            if candidate is not None and (best is None or candidate.rank > best.rank):
                best = candidate
        return best

    def _hits(self, tokens: Sequence[str]) -> _Hits:
        hits: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for position, token in enumerate(tokens):
            for word_id, quality in self._lexicon.lookup(token):
                hits[word_id].append((position, quality))
        return hits

    def _content_words(self, tokens: Tokens) -> int:
        return tokens.content_index(self._grammar.stopwords)[-1]

    def _close(self, positions: Sequence[int], tokens: Tokens) -> bool:
        """At most THING_GAP words between the phrase's words, stopwords not counted."""
        index = tokens.content_index(self._grammar.stopwords)
        ordered = sorted(index[position] for position in positions)
        return all(b - a <= THING_GAP + 1 for a, b in itertools.pairwise(ordered))

    def _negated(self, hits: _Hits, tokens: Tokens) -> frozenset[int]:
        if self._negating.isdisjoint(hits):
            return frozenset()
        return self._grammar.negation.covered(hits, tokens)

    def _complete(self, hits: _Hits, tokens: Sequence[str]) -> list[int]:
        """Phrases with every slot filled somewhere in the message. Words are read as things
        only when a phrase with {thing} lacks nothing else (the costly step, seldom needed)."""
        filled: dict[int, int] = defaultdict(int)
        for word_id in hits:
            for phrase_id, slot_bit in self._slot_index.get(word_id, ()):
                filled[phrase_id] |= slot_bit
        full = self._full_masks
        wanting = [p for p, bit in self._thing_slots if filled.get(p, 0) | bit == full[p]]
        if wanting and self._thing is not None:
            things = _ThingReader(self._lexicon, self._grammar).things(tokens)
            if things:
                cast(dict[int, list[tuple[int, float]]], hits)[self._thing] = [
                    (position, 1.0) for position in things
                ]
                for phrase_id, bit in self._thing_slots:
                    filled[phrase_id] |= bit
        return [p for p, bits in filled.items() if bits == full[p]]

    def _candidate(
        self, phrase_id: int, hits: _Hits, blocked: frozenset[int], tokens: Tokens
    ) -> _Candidate | None:
        phrase = self._phrases[phrase_id]
        placement = self._place(phrase, hits, blocked, tokens)
        if placement is None:
            return None
        matched = " + ".join(self._lexicon.patterns[word_id] for word_id in placement.word_ids)
        score = phrase.base_score * placement.quality
        return _Candidate(phrase.intent, score, len(phrase.slots), -phrase_id, matched)

    def _place(
        self, phrase: _Phrase, hits: _Hits, blocked: frozenset[int], tokens: Tokens
    ) -> _Placement | None:
        options = [_occurrences(slot, hits, blocked) for slot in phrase.slots]
        choices = itertools.islice(itertools.product(*options), _PLACEMENTS_LIMIT)
        placements = (self._placement(phrase, choice, tokens) for choice in choices)
        return max((p for p in placements if p is not None), key=lambda p: p.rank, default=None)

    def _placement(
        self, phrase: _Phrase, choice: Sequence[tuple[int, float, int]], tokens: Tokens
    ) -> _Placement | None:
        positions = [position for position, _quality, _word in choice]
        if len(set(positions)) < len(positions):
            return None  # one token cannot fill two slots
        if phrase.ordered and positions != sorted(positions):
            return None
        span = max(positions) - min(positions)
        if span > len(positions) - 1 + self._max_gap:
            return None
        if phrase.tight and not self._close(positions, tokens):
            return None
        quality = min(quality for _position, quality, _word in choice)
        return _Placement(quality, span, tuple(word for *_, word in choice))


def _occurrences(
    slot: frozenset[int], hits: _Hits, blocked: frozenset[int]
) -> list[tuple[int, float, int]]:
    found = [
        (position, quality, word)
        for word in slot.intersection(hits)
        for position, quality in hits[word]
        if position not in blocked
    ]
    return sorted(found)[:_OCCURRENCES_LIMIT]


class IntentMatcher:
    """Routes a message to the best-matching catalog intent, or "none" below the threshold."""

    def __init__(
        self,
        settings: _Settings,
        models: Mapping[str, _LanguageModel],
        routes: Mapping[str, Route],
        clause_breaks: frozenset[str] = frozenset(),
    ) -> None:
        self._settings = settings
        self._models = dict(models)
        self._routes = dict(routes)
        self._breaks = clause_breaks

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
        given = lang if lang in self._models else None
        lang = given or self._written_in(text, lang)
        best = self._best(tokens, lang)
        if best is None and given is not None:
            written_in = self._written_in(text, given)
            if written_in != given:
                lang, best = written_in, self._best(tokens, written_in)
        if best is None:
            return IntentMatch(NO_INTENT, "other", 0.0, "", lang)
        score = round(min(best.score, 1.0), 3)
        return IntentMatch(best.intent, self._routes[best.intent], score, best.matched, lang)

    def _best(self, tokens: Tokens, lang: str) -> _Candidate | None:
        best = self._models[lang].best(tokens)
        return best if best is not None and best.score >= self._settings.threshold else None

    def _written_in(self, text: str, lang: str | None) -> str:
        return self._known(detect_language(text, default=lang or ""))

    def _known(self, lang: str) -> str:
        return lang if lang in self._models else self._settings.languages[0]

    def _tokens(self, text: str) -> Tokens:
        return Tokens(text, self._settings.max_chars, self._breaks)


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
        breaks = frozenset(
            word for lang in settings.languages for word in self._clause_breaks(data, lang)
        )
        return IntentMatcher(settings, models, routes, breaks)

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
        groups, stopwords = self._groups(data, lang), self._stopwords(data, lang)
        never_things = frozenset(normalise_pattern(w) for w in groups.get("nothing", []))
        typos = TypoRule(settings.typo_min_length, settings.typo_quality)
        lexicon = Lexicon(lang, typos, never_things | stopwords)
        compiler = _PhraseCompiler(lexicon, groups, stopwords, self.fail)
        phrases = [
            phrase
            for name in intents
            for phrase in self._phrases(name, self._intent(intents, name), lang, compiler, settings)
        ]
        grammar = _Grammar(
            negation=self._negation(data, lang, compiler),
            cancelled_routes=self._cancelled_routes(data),
            stopwords=stopwords,
            thing_verbs=self._thing_verbs(lexicon, groups),
            verb_markers=frozenset(normalise(w) for w in groups.get("verb_marker", [])),
            prepositions=frozenset(normalise(w) for w in groups.get("preposition", [])),
        )
        lexicon.freeze()
        return _LanguageModel(lexicon, phrases, settings.max_gap, grammar)

    def _negation_table(self, data: Mapping[str, object], lang: str) -> dict[str, object]:
        negation = self._table(data, "negation", "[negation]")
        return self._table(negation, lang, f"[negation.{lang}]")

    def _negation(
        self, data: Mapping[str, object], lang: str, compiler: _PhraseCompiler
    ) -> Negation:
        table = self._negation_table(data, lang)
        texts = self._strings(table.get("scopes", []), f"negation.{lang}.scopes")
        scopes = tuple(compiler.compile(text, f"negation ({lang})").slots for text in texts)
        return Negation(scopes=scopes)

    def _thing_verbs(self, lexicon: Lexicon, groups: Mapping[str, list[str]]) -> frozenset[int]:
        patterns = (normalise_pattern(w) for g in ("supply", "buy") for w in groups.get(g, []))
        return frozenset(i for i in map(lexicon.id_of, patterns) if i is not None)

    def _cancelled_routes(self, data: Mapping[str, object]) -> frozenset[str]:
        negation = self._table(data, "negation", "[negation]")
        routes = self._strings(negation.get("cancels", []), "negation.cancels")
        unknown = sorted(set(routes) - set(ROUTES))
        if unknown:
            raise self.fail(f"negation.cancels: unknown routes {unknown}")
        return frozenset(routes)

    def _clause_breaks(self, data: Mapping[str, object], lang: str) -> list[str]:
        table = self._negation_table(data, lang)
        words = self._strings(table.get("clause_breaks", []), f"negation.{lang}.clause_breaks")
        return [normalise(word) for word in words]

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
            phrase = compiler.compile(text, f"intent {name!r} ({lang})")
            slots = phrase.slots
            score = weight * settings.length_score(len(slots))
            tight = any(word in s for word in compiler.built_in_ids for s in slots)
            yield _Phrase(name, slots, score, phrase.ordered, phrase.whole, tight)


class _PhraseCompiler:
    """Turns 'talk|speak to a {person}' into slots of word pattern ids."""

    def __init__(
        self,
        lexicon: Lexicon,
        groups: Mapping[str, list[str]],
        stopwords: frozenset[str],
        fail: Callable[[str], CatalogError],
    ) -> None:
        self._lexicon = lexicon
        self._groups = groups
        self._stopwords = stopwords
        self._fail = fail

    @property
    def built_in_ids(self) -> tuple[int, ...]:
        """The ids of {thing} and {count}: phrases with them must stand close together."""
        ids = (self._lexicon.id_of(THING), self._lexicon.id_of(COUNT))
        return tuple(word_id for word_id in ids if word_id is not None)

    def compile(self, text: str, where: str) -> _Compiled:
        """The phrase's slots, whether they must appear in order (a "quoted phrase"), and
        whether they must be the whole message (a phrase written "=how much")."""
        stripped = text.strip()
        whole = stripped.startswith("=")
        stripped = stripped.removeprefix("=").strip()
        ordered = whole or (len(stripped) > 1 and stripped[0] == stripped[-1] == '"')
        words = normalise_pattern(stripped.strip('"')).split()
        content = [word for word in words if word not in self._stopwords] or words
        if not content:
            raise self._fail(f"{where}: empty phrase {text!r}")
        slots = tuple(self._slot(word, text, where) for word in content)
        return _Compiled(slots, ordered, whole)

    def _slot(self, word: str, text: str, where: str) -> frozenset[int]:
        patterns = [p for alternative in word.split("|") for p in self._expand(alternative, where)]
        if not patterns:
            raise self._fail(f"{where}: empty alternative in phrase {text!r}")
        return frozenset(self._lexicon.add(pattern) for pattern in patterns)

    def _expand(self, alternative: str, where: str) -> list[str]:
        if alternative.startswith("{") and alternative.endswith("}"):
            return self._group(alternative[1:-1], where)
        if any(c in alternative for c in "{}") or any(c in alternative[:-1] for c in "*~"):
            raise self._fail(f"{where}: malformed word {alternative!r}")
        if alternative.endswith("*") and len(alternative) < 3:
            raise self._fail(f"{where}: stem {alternative!r} is too short (2 letters at least)")
        if alternative.endswith("~"):
            self._check_lemma(alternative[:-1], where)
        return [alternative] if alternative else []

    def _check_lemma(self, word: str, where: str) -> None:
        if self._lexicon.lang != "ru":
            raise self._fail(f"{where}: {word}~ (any form of a word) is known for Russian only")
        if word not in words.lemmas(word):
            raise self._fail(f"{where}: {word}~ must be a dictionary form (a lemma)")

    def _group(self, name: str, where: str) -> list[str]:
        if f"{{{name}}}" in BUILT_IN:
            return [f"{{{name}}}"]
        if name not in self._groups:
            raise self._fail(f"{where}: unknown group {{{name}}}")
        patterns = [normalise_pattern(word) for word in self._groups[name]]
        malformed = [p for p in patterns if not p or any(c in p for c in " {}|")]
        if malformed:
            raise self._fail(
                f"{where}: group {{{name}}} must list one word or stem per entry, got {malformed}"
            )
        return patterns
