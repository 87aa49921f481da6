"""Repeated, interleaved runs of a benchmark, summarised as a median and a spread.

A benchmark measures its baseline and its candidates in turn, round after round (baseline,
candidate, baseline, candidate, ...), so that whatever drifts on a shared machine (another
process, a warming cache, a growing table) falls on all of them alike. Each figure is then
reported as `median (min–max)` over the rounds, and each ratio is taken per round (candidate
and baseline of the same round) before it is summarised the same way.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_RUNS = 3


@dataclass(frozen=True, slots=True)
class Spread:
    """One figure over several runs: its median, lowest and highest value."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        ordered = sorted(values)
        if not ordered:
            raise ValueError("a spread needs at least one value")
        return cls(statistics.median(ordered), ordered[0], ordered[-1], len(ordered))

    def format(self, spec: str = ",.0f") -> str:
        """`median (min–max)` with each number formatted by `spec`; one run is its value alone,
        so a single run prints as the benchmark always printed it."""
        median = format(self.median, spec)
        if self.runs == 1:
            return median
        return f"{median} ({format(self.low, spec)}–{format(self.high, spec)})"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0.99 for p99): the smallest measured value with at
    least that share of the values at or below it."""
    ordered = sorted(values)
    # Rounded first so that 0.07 * 100 (7.000000000000001) is rank 7, not 8.
    rank = math.ceil(round(share * len(ordered), 9))
    return ordered[max(0, min(len(ordered), rank) - 1)]


def ratios(candidate: Sequence[float], baseline: Sequence[float]) -> Spread:
    """The ratio of each round (candidate over the baseline of the same round), summarised."""
    if len(candidate) != len(baseline):
        raise ValueError(f"{len(candidate)} candidate runs against {len(baseline)} baseline runs")
    return Spread.of(ours / theirs for ours, theirs in zip(candidate, baseline, strict=True))


def interleave(runs: int, contenders: Sequence[Callable[[int], T]]) -> list[list[T]]:
    """Calls each contender once per round, in order, for `runs` rounds (the round number is
    the argument); returns each contender's results in round order."""
    results: list[list[T]] = [[] for _ in contenders]
    for round_number in range(runs):
        for contender, own in zip(contenders, results, strict=True):
            own.append(contender(round_number))
    return results


async def interleave_async(
    runs: int, contenders: Sequence[Callable[[int], Awaitable[T]]]
) -> list[list[T]]:
    """`interleave` for coroutines: each run is awaited before the next one starts."""
    results: list[list[T]] = [[] for _ in contenders]
    for round_number in range(runs):
        for contender, own in zip(contenders, results, strict=True):
            own.append(await contender(round_number))
    return results


def aligned(template: str, rows: Sequence[Sequence[str]]) -> list[str]:
    """Fills `template`'s `{}` fields with each row's cells, padded to the widest cell of their
    column: the first (a name) on the left, the others (figures) on the right."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [template.format(*_padded(row, widths)).rstrip() for row in rows]


def _padded(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    (name, name_width), *figures = zip(row, widths, strict=True)
    return [name.ljust(name_width), *(cell.rjust(width) for cell, width in figures)]


def add_runs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs",
        type=positive,
        default=DEFAULT_RUNS,
        help="interleaved rounds of baseline and candidates; figures are median (min–max) "
        f"(default {DEFAULT_RUNS})",
    )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value
