"""Intent matching: which route (lead, service, human, other) a customer message takes.

The knowledge lives in an operator-editable TOML catalog (`handlers/catalog/intents.toml`): per
intent and language, phrases made of word patterns. This module loads and checks the catalog
and picks the language; `bot/lexicon.py` resolves words (exactly, stems, Russian lemmas,
guarded typos, built-in words), `bot/negation.py` finds negation scopes, and
`bot/phrases.py` scores phrases. Every match is explainable: the intent, a score and the
catalog words that decided it; below the catalog's threshold the intent is "none" and the
route "other".
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
    normalise,
    normalise_pattern,
)
from bot.negation import Negation, Tokens
from bot.phrases import Candidate, Grammar, LanguageModel, Phrase

__all__ = ["ROUTES", "CatalogError", "IntentMatch", "IntentMatcher", "Route", "normalise"]

Route = Literal["lead", "service", "human", "other"]
ROUTES: Final[tuple[str, ...]] = get_args(Route)
NO_INTENT: Final = "none"

_INTENT_KEYS: Final = frozenset({"route", "weight", "description"})


class CatalogError(Exception):
    """The intent catalog cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: str  # "lead.quote", ...; "none" when nothing matched well enough
    route: Route  # "other" when intent is "none"
    score: float  # 0..1, rounded to 3 decimals
    # the catalog words that decided, joined with " + "; for none, "" or the negation that
    # cancelled a match ("negated: dont + want")
    matched: str
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
class _Compiled:
    slots: tuple[frozenset[int], ...]
    ordered: bool
    whole: bool


class IntentMatcher:
    """Routes a message to the best-matching catalog intent, or "none" below the threshold."""

    def __init__(
        self,
        settings: _Settings,
        models: Mapping[str, LanguageModel],
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
            negated = self._models[lang].negation_in(tokens)
            return IntentMatch(NO_INTENT, "other", 0.0, negated and f"negated: {negated}", lang)
        score = round(min(best.score, 1.0), 3)
        return IntentMatch(best.intent, self._routes[best.intent], score, best.matched, lang)

    def _best(self, tokens: Tokens, lang: str) -> Candidate | None:
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
    ) -> LanguageModel:
        groups, stopwords = self._groups(data, lang), self._stopwords(data, lang)
        never_things = frozenset(normalise_pattern(w) for w in groups.get("nothing", []))
        typos = TypoRule(settings.typo_min_length, settings.typo_quality)
        lexicon = Lexicon(lang, typos, never_things | stopwords)
        compiler = PhraseCompiler(lexicon, groups, stopwords, self.fail)
        phrases = [
            phrase
            for name in intents
            for phrase in self._phrases(name, self._intent(intents, name), lang, compiler, settings)
        ]
        grammar = Grammar(
            negation=self._negation(data, lang, compiler),
            cancelled_routes=self._cancelled_routes(data),
            stopwords=stopwords,
            thing_verbs=self._thing_verbs(lexicon, groups),
            verb_markers=frozenset(normalise(w) for w in groups.get("verb_marker", [])),
            prepositions=frozenset(normalise(w) for w in groups.get("preposition", [])),
            topics=frozenset(normalise(w) for w in groups.get("topic", [])),
        )
        lexicon.freeze()
        return LanguageModel(lexicon, phrases, settings.max_gap, grammar)

    def _negation_table(self, data: Mapping[str, object], lang: str) -> dict[str, object]:
        negation = self._table(data, "negation", "[negation]")
        return self._table(negation, lang, f"[negation.{lang}]")

    def _negation(
        self, data: Mapping[str, object], lang: str, compiler: PhraseCompiler
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
        compiler: PhraseCompiler,
        settings: _Settings,
    ) -> Iterator[Phrase]:
        unknown = set(table) - _INTENT_KEYS - set(settings.languages)
        if unknown:
            raise self.fail(f"intent {name!r}: unknown keys {sorted(unknown)}")
        weight = self._number(table, "weight", 1.0, f"intents.{name!r}")
        for text in self._strings(table.get(lang, []), f"intents.{name!r}.{lang}"):
            phrase = compiler.compile(text, f"intent {name!r} ({lang})")
            slots = phrase.slots
            score = weight * settings.length_score(len(slots))
            tight = any(word in s for word in compiler.built_in_ids for s in slots)
            yield Phrase(name, slots, score, phrase.ordered, phrase.whole, tight)


class PhraseCompiler:
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
