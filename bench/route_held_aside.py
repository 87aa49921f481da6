"""Routing accuracy on the held-aside set: customer messages written for evaluation only.

    python -m bench.route_held_aside [--data PATH ...] [--catalog PATH] [--errors]

Each set holds JSON lines {"text", "lang", "route"} (route: lead, service, human, other, as the
matcher names them), English and Russian, written apart from the catalog and from
../shared/corpus. Without --data every set is measured:

- `bench/data/routing_held_aside.jsonl` (set 1): some catalog choices were kept or dropped by its
  score, so it is a development set now;
- `bench/data/routing_held_aside_2.jsonl` (set 2): written before a round of rule changes, whose
  totals were read before and after them;
- `bench/data/routing_held_aside_3.jsonl` (set 3): written blind — by someone who read neither
  the catalog nor the other sets, only the corpus's label guide (../shared/corpus/intents/
  README.md: a request for a sales call is LEAD); its totals were read twice, then its misses
  were read and fixed once set 4 was in place: a development set now;
- `bench/data/routing_held_aside_4.jsonl` (set 4): written blind the same way, in more styles
  (typos, capitals, slang, brand names in Russian, indirect requests, assistant commands), and
  committed before the rules it measures changed; never read row by row: read its figures only,
  never its misses (no --errors on it);
- `bench/data/routing_held_aside_5.jsonl` (set 5): written blind the same way after the round
  that set 4 measured, leaning on how people write to banks and shops (short single-intent
  requests, phone typing, speech-to-text without punctuation), and read once, in totals, with
  the rules as they were: the figure for messages nobody tuned on. No --errors on it either.

`bench/data/routing_dev.jsonl` is a development set of the same kind (`--data` it): sentences
written to find the catalog's gaps, free to read row by row.

Routed as the bot routes (the language detected, not given). Printed per set and language:
accuracy; per language and route: rows, accuracy and where the misses went; then the worst pairs.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.route_accuracy import Routed, Row, accuracy, route_all
from bot.intents import IntentMatcher
from handlers.catalog import Catalog

DATA = Path(__file__).resolve().parent / "data" / "routing_held_aside.jsonl"
DATA_2 = DATA.with_name("routing_held_aside_2.jsonl")
DATA_3 = DATA.with_name("routing_held_aside_3.jsonl")
DATA_4 = DATA.with_name("routing_held_aside_4.jsonl")
DATA_5 = DATA.with_name("routing_held_aside_5.jsonl")
DEV = DATA.with_name("routing_dev.jsonl")
ROUTES = ("lead", "service", "human", "other")
WORST = 4


def load_rows(path: Path) -> list[Row]:
    """The set as rows of bench.route_accuracy (its labels are the routes, upper case)."""
    rows = []
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip():
            data = json.loads(raw)
            rows.append(Row(line, data["text"], data["lang"], data["route"].upper(), "held", ""))
    return rows


def pair_line(lang: str, route: str, routed: Sequence[Routed]) -> str:
    missed = Counter(r.predicted.lower() for r in routed if not r.correct)
    instead = ", ".join(f"{name} {count}" for name, count in missed.most_common())
    right = sum(r.correct for r in routed)
    return f"   {lang}/{route:8} {len(routed):5d} {right:6d} {accuracy(routed):9.3f}   {instead}"


def report(routed: Sequence[Routed]) -> None:
    pairs: list[tuple[float, str]] = []
    for lang in sorted({r.row.lang for r in routed}):
        mine = [r for r in routed if r.row.lang == lang]
        print(f"\n== {lang}: {len(mine)} rows   accuracy {accuracy(mine):.3f}")
        print(f"   {'pair':11} {'rows':>5} {'right':>6} {'accuracy':>9}   routed instead")
        for route in ROUTES:
            group = [r for r in mine if r.row.label == route.upper()]
            if group:
                print(pair_line(lang, route, group))
                pairs.append((accuracy(group), f"{lang}/{route}"))
    worst = ", ".join(f"{name} {score:.3f}" for score, name in sorted(pairs)[:WORST])
    print(f"\nworst language/route pairs: {worst}")


def print_errors(routed: Sequence[Routed]) -> None:
    print("\n== misrouted rows (line, lang, expected -> got, intent, matched)")
    for r in routed:
        if not r.correct:
            print(
                f"{r.row.line:4d} {r.row.lang} {r.row.label.lower():>7} -> "
                f"{r.predicted.lower():7} {r.match.intent:18} [{r.match.matched}] {r.row.text!r}"
            )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    matcher = IntentMatcher.from_file(args.catalog) if args.catalog else Catalog.load().matcher
    for number, path in enumerate(args.data or [DATA, DATA_2, DATA_3, DATA_4, DATA_5]):
        rows = load_rows(path)
        routed = route_all(matcher, rows)
        langs = Counter(row.lang for row in rows)
        print(
            f"{'' if number == 0 else chr(10)}held-aside set {path.name}: {len(rows)} rows "
            f"({', '.join(f'{lang} {n}' for lang, n in sorted(langs.items()))}), "
            f"intents: {len(matcher.intents)}"
        )
        report(routed)
        if args.errors:
            print_errors(routed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.route_held_aside",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="a set to measure (repeatable; default: every set in bench/data)",
    )
    parser.add_argument(
        "--catalog", type=Path, default=None, help="intent catalog TOML (default: the shipped one)"
    )
    parser.add_argument("--errors", action="store_true", help="print the misrouted rows")
    return parser


if __name__ == "__main__":
    main()
