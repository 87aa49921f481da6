"""The phrases of one catalog language and how a message is scored against them.

A phrase matches when each of its words is found in the message, close together (in the
written order if the phrase is quoted; as the whole message for a "=" phrase), and no negation
scope covers a word of it (for the routes negation cancels). Its score is its intent's weight
times a score for its length, lowered for typos; the best phrase decides. `bot/intents.py`
loads the catalog into these models and picks the language.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from bot.lexicon import THING, Lexicon, WordFacts
from bot.negation import Negation, Tokens

_PLACEMENTS_LIMIT: Final = 256  # word combinations tried per phrase; real messages need few
_OCCURRENCES_LIMIT: Final = 6  # occurrences of one phrase word considered per message
THING_GAP: Final = 1  # "нужны офисные кресла": a {thing} stands right by its phrase's words

_Hits = Mapping[int, list[tuple[int, float]]]  # word pattern id -> [(token position, quality)]


@dataclass(frozen=True, slots=True)
class Phrase:
    intent: str
    slots: tuple[frozenset[int], ...]  # each slot: the word pattern ids that can fill it
    base_score: float
    ordered: bool
    whole: bool = False  # the message must be this phrase and nothing else ("=how much")
    tight: bool = False  # at most THING_GAP words between its words ({thing} or {count})


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
class Candidate:
    intent: str
    score: float
    words: int
    order: int  # minus the phrase's position in the catalog: the earlier phrase wins a tie
    matched: str

    @property
    def rank(self) -> tuple[float, int, int]:
        return (self.score, self.words, self.order)


@dataclass(frozen=True, slots=True)
class Grammar:
    """What a language model knows beyond its phrases."""

    negation: Negation = field(default_factory=Negation)
    cancelled_routes: frozenset[str] = frozenset()  # the routes a negation scope can cancel
    stopwords: frozenset[str] = frozenset()
    # Verbs whose object is a thing, even after "to": the catalog's groups `supply` and `buy`.
    thing_verbs: frozenset[int] = frozenset()
    # Words after which a thing is named, even after a verb: "to know more about the desks".
    topics: frozenset[str] = frozenset()
    # Words after which the next word is a verb, never a thing: "to" in "I need to know".
    verb_markers: frozenset[str] = frozenset()
    # Words that open a phrase of their own up to its noun: "для томатного супа".
    prepositions: frozenset[str] = frozenset()


class _ThingReader:
    """Reads a message word by word and tells which words may be a {thing}: not a catalog
    word, and not where the sentence is about something else:

    - after a verb ("need to make a list": the list is what is made; "to" in English, an
      infinitive in Russian), unless the verb is one of supplying or buying ("looking to
      equip a classroom") or a word of the group `topic` follows ("to know more about");
    - right after another noun ("рецепт приготовления": its complement);
    - inside a prepositional phrase up to its noun ("нужны для томатного супа": what for).
    """

    def __init__(self, lexicon: Lexicon, grammar: Grammar) -> None:
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
        supplying = token in grammar.topics or any(
            word_id in grammar.thing_verbs for word_id, _quality in found
        )
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


class LanguageModel:
    """The phrases of one language, indexed by word so a message visits only its candidates."""

    def __init__(
        self, lexicon: Lexicon, phrases: Sequence[Phrase], max_gap: int, grammar: Grammar
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

    def _negatable_phrase(self, phrase: Phrase, negating: frozenset[int]) -> bool:
        """A phrase of a route negation cancels, not itself about a negation ("not working")."""
        route = phrase.intent.split(".")[0]
        cancelled = route in self._grammar.cancelled_routes
        return cancelled and not any(slot & negating for slot in phrase.slots)

    def _strength(self, phrase_id: int) -> tuple[float, int, int]:
        phrase = self._phrases[phrase_id]
        return (phrase.base_score, len(phrase.slots), -phrase_id)

    def best(self, tokens: Tokens) -> Candidate | None:
        """The best phrase; ties go to the phrase with more words, then to the earlier one.

        A phrase whose words a negation scope covers does not match ("dont want to buy").
        """
        hits = self._hits(tokens.words)
        complete = self._complete(hits, tokens.words)
        negated = self._negated(hits, tokens) if complete else frozenset()
        best: Candidate | None = None
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

    def negation_in(self, tokens: Tokens) -> str:
        """The negation scopes of the message, as catalog words: why a negated request did
        not match ("dont + want")."""
        hits = self._hits(tokens.words)
        if self._negating.isdisjoint(hits):
            return ""
        return self._grammar.negation.found(hits, self._lexicon.patterns)

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
    ) -> Candidate | None:
        phrase = self._phrases[phrase_id]
        placement = self._place(phrase, hits, blocked, tokens)
        if placement is None:
            return None
        matched = " + ".join(self._lexicon.patterns[word_id] for word_id in placement.word_ids)
        score = phrase.base_score * placement.quality
        return Candidate(phrase.intent, score, len(phrase.slots), -phrase_id, matched)

    def _place(
        self, phrase: Phrase, hits: _Hits, blocked: frozenset[int], tokens: Tokens
    ) -> _Placement | None:
        options = [_occurrences(slot, hits, blocked) for slot in phrase.slots]
        choices = itertools.islice(itertools.product(*options), _PLACEMENTS_LIMIT)
        placements = (self._placement(phrase, choice, tokens) for choice in choices)
        return max((p for p in placements if p is not None), key=lambda p: p.rank, default=None)

    def _placement(
        self, phrase: Phrase, choice: Sequence[tuple[int, float, int]], tokens: Tokens
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
