"""Clauses and negation scopes: "I don't want to buy anything, just browsing" is no purchase.

A message is cut into clauses at punctuation and at the catalog's clause words ("but",
"just", "но", "а", "просто"). A negation scope is a catalog phrase such as "dont want" or
"не хочу": from its first word to the end of its clause, the words it covers cannot make a
phrase match, unless the phrase itself contains the negation word ("not working", "не
пришел" are phrases about a negation, and stay).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bot.lexicon import normalise

SCOPE_GAP: Final = 1  # words allowed between a scope's words: "do not really want"
_CLAUSE_BREAK = re.compile(r"[.!?;:,…()\[\]\n\r—–]+|\s-\s")

Hits = Mapping[int, list[tuple[int, float]]]  # word pattern id -> [(token position, quality)]


class Tokens:
    """A message's normalised words, and (worked out only when a negation asks) which clause
    each belongs to."""

    def __init__(self, text: str, max_chars: int, breaks: frozenset[str]) -> None:
        # Cut before normalising too: a 100 KB message costs no more than a long one.
        self._text = text[: max_chars * 4]
        self._breaks = breaks
        self.words = normalise(self._text)[:max_chars].split()
        self._clause_of: list[int] | None = None
        self._content_index: list[int] | None = None

    def content_index(self, stopwords: frozenset[str]) -> list[int]:
        """For each word, how many words before it are not stopwords; the last entry is how
        many there are in all."""
        if self._content_index is None:
            counts = [0]
            for word in self.words:
                counts.append(counts[-1] + (word not in stopwords))
            self._content_index = counts
        return self._content_index

    def clause_end(self, position: int) -> int:
        """The last position of the clause `position` is in."""
        clause_of = self._clauses()
        return bisect_right(clause_of, clause_of[position]) - 1

    def clause_start(self, position: int) -> int:
        """The first position of the clause `position` is in."""
        clause_of = self._clauses()
        return bisect_left(clause_of, clause_of[position])

    def _clauses(self) -> list[int]:
        if self._clause_of is None:
            self._clause_of = _clause_numbers(self._text, self._breaks, len(self.words))
        return self._clause_of


def _clause_numbers(text: str, breaks: frozenset[str], count: int) -> list[int]:
    """The clause number of each of the first `count` words (non-decreasing)."""
    numbers: list[int] = []
    clause = 0
    for part in _CLAUSE_BREAK.split(text):
        for word in normalise(part).split():
            clause += word in breaks
            numbers.append(clause)
        clause += 1
    numbers = numbers[:count]
    return numbers + [clause] * (count - len(numbers))


@dataclass(frozen=True, slots=True)
class Negation:
    """The negation scopes of one language, as slots of word pattern ids."""

    scopes: tuple[tuple[frozenset[int], ...], ...] = ()
    breaks: frozenset[str] = frozenset()

    @property
    def negating(self) -> frozenset[int]:
        """The negation words themselves: the first slot of every scope."""
        return frozenset(word for scope in self.scopes for word in scope[0])

    def covered(self, hits: Hits, tokens: Tokens) -> frozenset[int]:
        """The token positions some negation scope covers."""
        positions: set[int] = set()
        for scope in self.scopes:
            for start, last in _places(scope, hits):
                end = tokens.clause_end(start)
                # A negation that ends its clause negates what came before: "оператора не
                # надо", "a call is not needed".
                begin = tokens.clause_start(start) if last == end else start
                positions.update(range(begin, end + 1))
        return frozenset(positions)

    def found(self, hits: Hits, patterns: Sequence[str]) -> str:
        """The scopes in the message as catalog words ("dont + want"), for the record."""
        return "; ".join(
            " + ".join(patterns[min(slot.intersection(hits))] for slot in scope)
            for scope in self.scopes
            if _places(scope, hits)
        )


def _places(scope: Sequence[frozenset[int]], hits: Hits) -> list[tuple[int, int]]:
    """Where the scope's words stand in order, each at most SCOPE_GAP words after the last:
    the positions of its first and last word."""
    places = [{p for word in slot for p, _quality in hits.get(word, ())} for slot in scope]
    found = []
    for start in sorted(places[0]):
        last = start
        for following in places[1:]:
            after = [p for p in following if last < p <= last + 1 + SCOPE_GAP]
            if not after:
                break
            last = min(after)
        else:
            found.append((start, last))
    return found
