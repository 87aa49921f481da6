"""Routing accuracy and speed of the intent catalog on a labelled corpus.

    python -m bench.route_accuracy [--corpus PATH] [--catalog PATH] [--rows all|even|odd] [--errors]
                                   [--runs R]

The corpus is JSON lines with "text", "lang" and "label" (LEAD, SERVICE, HUMAN, OTHER); by default
the development set in ../shared/corpus/intents/dev.jsonl. It is read, never copied: its licences
(GPL, CDLA-Sharing) keep it out of the product. `--rows even|odd` scores one half of the file, so
the catalog can be tuned on one half and checked on the other.

Printed per language: accuracy, recall / precision / F1 per label, macro-F1 over the labels the
language has, a confusion matrix; and the routing speed. The baseline, measured in the same run,
is the majority-class router (always the most frequent label of the language, no keywords).
The speed's baseline is `normalise()` alone on the same texts; the two are timed in turn, R
rounds (3 by default), and printed as median (min–max), the ratio per round (bench/rounds.py).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.rounds import Spread, add_runs_argument, interleave, ratios
from bot.intents import IntentMatch, IntentMatcher, normalise
from handlers.catalog import Catalog

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "intents" / "dev.jsonl"
LABELS = ("LEAD", "SERVICE", "HUMAN", "OTHER")
SPEED_PASSES = 5


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    text: str
    lang: str
    label: str
    source: str
    orig_intent: str


@dataclass(frozen=True, slots=True)
class Routed:
    row: Row
    match: IntentMatch

    @property
    def predicted(self) -> str:
        return self.match.route.upper()

    @property
    def correct(self) -> bool:
        return self.predicted == self.row.label


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    support: int
    recall: float
    precision: float

    @property
    def f1(self) -> float:
        total = self.recall + self.precision
        return 2 * self.recall * self.precision / total if total else 0.0


def load_rows(path: Path, half: str = "all") -> list[Row]:
    rows = []
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip() and _in_half(line, half):
            rows.append(_row(line, json.loads(raw)))
    return rows


def _in_half(line: int, half: str) -> bool:
    return half == "all" or (line % 2 == 0) == (half == "even")


def _row(line: int, data: dict[str, str]) -> Row:
    return Row(
        line,
        data["text"],
        data["lang"],
        data["label"],
        data.get("source", ""),
        data.get("orig_intent", ""),
    )


def route_all(matcher: IntentMatcher, rows: Iterable[Row]) -> list[Routed]:
    """Routes with language detection, as the bot does: the row's own `lang` is not given."""
    return [Routed(row, matcher.match(row.text)) for row in rows]


def label_scores(routed: Sequence[Routed], labels: Iterable[str]) -> list[LabelScore]:
    gold = Counter(r.row.label for r in routed)
    predicted = Counter(r.predicted for r in routed)
    hits = Counter(r.row.label for r in routed if r.correct)
    return [
        LabelScore(
            label,
            gold[label],
            _ratio(hits[label], gold[label]),
            _ratio(hits[label], predicted[label]),
        )
        for label in labels
    ]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def accuracy(routed: Sequence[Routed]) -> float:
    return _ratio(sum(r.correct for r in routed), len(routed))


def majority_accuracy(rows: Sequence[Row]) -> float:
    counts = Counter(row.label for row in rows)
    return _ratio(counts.most_common(1)[0][1], len(rows)) if rows else 0.0


def print_language(lang: str, routed: Sequence[Routed]) -> None:
    rows = [r.row for r in routed]
    present = [label for label in LABELS if any(row.label == label for row in rows)]
    scores = label_scores(routed, present)
    macro_f1 = sum(s.f1 for s in scores) / len(scores)
    ours, baseline = accuracy(routed), majority_accuracy(rows)
    ratio = f"x{ours / baseline:.2f}" if baseline else "n/a"
    print(
        f"\n== {lang}: {len(routed)} rows   accuracy {ours:.3f}   macro-F1 {macro_f1:.3f}   "
        f"majority baseline {baseline:.3f} ({ratio})"
    )
    print(f"   {'label':8} {'support':>7} {'recall':>7} {'precision':>9} {'F1':>6}")
    for s in scores:
        print(f"   {s.label:8} {s.support:7d} {s.recall:7.3f} {s.precision:9.3f} {s.f1:6.3f}")
    print_confusion(routed)


def print_confusion(routed: Sequence[Routed]) -> None:
    pairs = Counter((r.row.label, r.predicted) for r in routed)
    print("   confusion (rows: expected, columns: routed to)")
    print("   " + " " * 8 + "".join(f"{label:>8}" for label in LABELS))
    for gold in LABELS:
        cells = "".join(f"{pairs[gold, got]:8d}" for got in LABELS)
        print(f"   {gold:8}{cells}")


def print_errors(routed: Sequence[Routed]) -> None:
    print("\n== misrouted rows (line, lang, expected -> got, intent, matched, source/orig_intent)")
    for r in routed:
        if not r.correct:
            m = r.match
            print(
                f"{r.row.line:4d} {r.row.lang} {r.row.label:>7} -> {r.predicted:7} "
                f"{m.intent:18} [{m.matched}] {r.row.source}/{r.row.orig_intent}: "
                f"{r.row.text[:160]!r}"
            )


@dataclass(frozen=True, slots=True)
class Speed:
    """Seconds per message: `cold` on the first pass over the texts (a new matcher meets every
    word for the first time), `warm` the mean over the next passes (its token cache is full),
    and the percentiles of the warm latencies."""

    cold: float
    warm: float
    p50: float
    p99: float


def speed(work: Callable[[str], object], texts: Sequence[str]) -> Speed:
    cold = _seconds(lambda: [work(text) for text in texts]) / len(texts)
    latencies = sorted(_seconds(partial(work, text)) for text in list(texts) * SPEED_PASSES)
    warm = sum(latencies) / len(latencies)
    return Speed(cold, warm, _quantile(latencies, 0.5), _quantile(latencies, 0.99))


def print_speed(load: Callable[[], IntentMatcher], rows: Sequence[Row], runs: int = 1) -> None:
    """The baseline is `normalise()` alone, timed the same way on the same texts."""
    texts = [row.text for row in rows]
    baseline, ours = interleave(
        runs, [lambda _: speed(normalise, texts), lambda _: speed(load().match, texts)]
    )
    warm = Spread.of(1 / figures.warm for figures in ours).format(",.0f")
    cold = Spread.of(1 / figures.cold for figures in ours).format(",.0f")
    p50 = Spread.of(figures.p50 * 1e6 for figures in ours).format(".0f")
    p99 = Spread.of(figures.p99 * 1e6 for figures in ours).format(".0f")
    print(
        f"\n== speed: {warm} messages/s warm, {cold}/s cold (new words); "
        f"latency p50 {p50} µs, p99 {p99} µs"
    )
    alone = Spread.of(1 / figures.warm for figures in baseline).format(",.0f")
    cost = ratios([f.warm for f in ours], [f.warm for f in baseline]).format(".1f")
    print(f"   baseline normalise() alone: {alone}/s; routing costs x{cost} the normalisation")


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _quantile(sorted_seconds: Sequence[float], quantile: float) -> float:
    return sorted_seconds[min(int(len(sorted_seconds) * quantile), len(sorted_seconds) - 1)]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)

    def load() -> IntentMatcher:
        return IntentMatcher.from_file(args.catalog) if args.catalog else Catalog.load().matcher

    matcher = load()
    rows = load_rows(args.corpus, args.rows)
    routed = route_all(matcher, rows)
    print(f"corpus {args.corpus} ({args.rows} rows: {len(rows)}), intents: {len(matcher.intents)}")
    for lang in sorted({row.lang for row in rows}):
        print_language(lang, [r for r in routed if r.row.lang == lang])
    detected = _ratio(sum(r.match.lang == r.row.lang for r in routed), len(routed))
    print(f"\nlanguage detection agrees with the corpus on {detected:.3f} of rows")
    print_speed(load, rows, args.runs)
    if args.errors:
        print_errors(routed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.route_accuracy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--catalog", type=Path, default=None, help="intent catalog TOML (default: the shipped one)"
    )
    parser.add_argument(
        "--rows",
        choices=("all", "even", "odd"),
        default="all",
        help="score every row, or only even / odd line numbers",
    )
    parser.add_argument("--errors", action="store_true", help="print the misrouted rows")
    add_runs_argument(parser)
    return parser


if __name__ == "__main__":
    main()
