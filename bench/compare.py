"""One benchmark from two checkouts, before (A) and after (B), run in turn and compared.

    python -m bench.compare [--runs N] [--args-a=ARGS] [--args-b=ARGS]
                            [--quiet-load L] [--quiet-wait SECONDS] A B MODULE [ARGS ...]

Each run is a process of its own, `A/.venv/bin/python -m MODULE ARGS` with A as its working
directory (so it imports A's bench/ and tests/ and, through A's virtual environment, A's
package), then the same in B: A, B, A, B, ... N of each (3 by default). PYTHONPATH and
VIRTUAL_ENV are not passed on; the rest of the environment is. `--args-a`/`--args-b` add
arguments to one side only (write them with `=`: `--args-b="--runs 1"`), for an option the
other side's bench does not have, or a database of its own (`--postgres URL`): two checkouts
with different migrations cannot share one.

The figures are read from what the benchmark prints. A line's shape is its text with the
numbers taken out; the n-th line of a shape in one run is matched with the n-th line of that
shape in every other run, and each of its numbers that is not the same in every run is a
figure. For each figure: A's and B's median (min–max), and B/A taken per pair of runs (the
k-th of A with the k-th of B, which ran one after the other) and summarised the same way.

`--quiet-load L` waits, before the first run, until the 1-minute load average is below L
(polling every 30 s, at most `--quiet-wait` seconds, then it measures anyway and says so).
The load at the start of every run is printed with the figures, and how many CPUs were busy
outside the benchmark's process while it ran (/proc/stat less the process's own CPU time).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.rounds import DEFAULT_RUNS, Spread, aligned, interleave, positive, ratios

NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
POLL_SECONDS = 30.0

LineKey = tuple[str, int]  # (shape, which occurrence of that shape in the output)


@dataclass(frozen=True, slots=True)
class Line:
    """A printed line split into its numbers (as printed) and the text around them."""

    text: str
    pieces: tuple[str, ...]  # one more than numbers
    numbers: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Line:
        return cls(text, tuple(NUMBER.split(text)), tuple(NUMBER.findall(text)))

    @property
    def shape(self) -> str:
        return " ".join(NUMBER.sub("#", self.text).split())

    def value(self, slot: int) -> float:
        return float(self.numbers[slot].replace(",", ""))


def parse(output: str) -> dict[LineKey, Line]:
    """The lines of one run by key, in the order printed."""
    seen: dict[str, int] = {}
    lines: dict[LineKey, Line] = {}
    for text in output.splitlines():
        line = Line.of(text.rstrip())
        occurrence = seen.get(line.shape, 0)
        seen[line.shape] = occurrence + 1
        lines[line.shape, occurrence] = line
    return lines


@dataclass(frozen=True, slots=True)
class Figure:
    """One number of one line: its value in each run of A and of B (None where the run did not
    print the line)."""

    a: tuple[float | None, ...]
    b: tuple[float | None, ...]
    printed: tuple[str, ...]  # every printed form, to format the summary alike

    def cells(self, label: str) -> list[str]:
        a, b = _present(self.a), _present(self.b)
        pairs = [(x, y) for x, y in zip(self.a, self.b, strict=True) if x and y is not None]
        return [
            label,
            self._format(a),
            self._format(b),
            ratios([y for _, y in pairs], [x for x, _ in pairs]).format(".2f") if pairs else "–",
        ]

    def _format(self, values: list[float]) -> str:
        if not values:
            return "–"
        decimals = max((len(p.split(".")[1]) if "." in p else 0) for p in self.printed)
        grouping = "," if any("," in p for p in self.printed) else ""
        return Spread.of(values).format(f"{grouping}.{decimals}f")


def _present(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None]


Row = str | list[str]  # a line as printed, or the cells of one figure


def compare(a_outputs: Sequence[str], b_outputs: Sequence[str]) -> list[Row]:
    """A line with no figure as printed; a line with figures with each figure numbered in
    place ([1], [2], ...), followed by one row of cells per figure."""
    a_runs, b_runs = [parse(o) for o in a_outputs], [parse(o) for o in b_outputs]
    keys = list(dict.fromkeys(key for run in [*a_runs, *b_runs] for key in run))
    rows: list[Row] = []
    for key in keys:
        rows.extend(_rows(key, a_runs, b_runs))
    return rows


def _rows(
    key: LineKey, a_runs: Sequence[dict[LineKey, Line]], b_runs: Sequence[dict[LineKey, Line]]
) -> list[Row]:
    lines = [run[key] for run in [*a_runs, *b_runs] if key in run]
    first = lines[0]
    varying = [
        slot for slot in range(len(first.numbers)) if len({ln.value(slot) for ln in lines}) > 1
    ]
    if not varying:
        return [first.text]
    marks = {slot: f"[{n}]" for n, slot in enumerate(varying, start=1)}
    numbers = [marks.get(slot, number) for slot, number in enumerate(first.numbers)]
    text = "".join(p + n for p, n in zip(first.pieces, [*numbers, ""], strict=True))
    rows: list[Row] = [text]
    for slot in varying:
        figure = Figure(
            tuple(run[key].value(slot) if key in run else None for run in a_runs),
            tuple(run[key].value(slot) if key in run else None for run in b_runs),
            tuple(line.numbers[slot] for line in lines),
        )
        rows.append(figure.cells(f"    {marks[slot]}"))
    return rows


def render(rows: Sequence[Row]) -> list[str]:
    """The figures' cells in columns as wide as the widest cell of all figures."""
    cells = [["", "A (before)", "B (after)", "B/A"]] + [r for r in rows if isinstance(r, list)]
    table = iter(aligned("{}  {}  {}  {}", cells))
    out = [next(table)]
    out.extend(row if isinstance(row, str) else next(table) for row in rows)
    return out


# --- running the two checkouts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkout:
    folder: Path
    extra: tuple[str, ...]

    def command(self, module: Sequence[str]) -> list[str]:
        return [str(self.folder / ".venv" / "bin" / "python"), "-m", *module, *self.extra]

    def describe(self) -> str:
        commit = _git(self.folder, "rev-parse", "--short", "HEAD") or "not a git checkout"
        dirty = _git(self.folder, "status", "--porcelain", "--untracked-files=no")
        return f"{self.folder} at {commit}{' with uncommitted changes' if dirty else ''}"


@dataclass(frozen=True, slots=True)
class Run:
    output: str
    seconds: float
    load: float  # the 1-minute load average when it started
    others: float | None  # CPUs busy outside the benchmark's process meanwhile, on average


def run_once(checkout: Checkout, module: Sequence[str]) -> Run:
    command = checkout.command(module)
    load = os.getloadavg()[0]
    print(f"  {shlex.join(command)}  (load {load:.2f})", file=sys.stderr, flush=True)
    busy, own, started = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(
        command, cwd=checkout.folder, env=_environment(), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{shlex.join(command)} in {checkout.folder} failed:\n{done.stderr[-3000:]}")
    busy_after = busy_cpu_seconds()
    others = None
    if busy is not None and busy_after is not None:
        others = (busy_after - busy - (children_cpu_seconds() - own)) / seconds
    return Run(done.stdout, seconds, load, others)


def busy_cpu_seconds() -> float | None:
    """CPU time the machine has spent busy (all CPUs, all but idle and iowait), from
    /proc/stat; None where there is none."""
    try:
        first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0]
    except OSError:
        return None
    ticks = [int(field) for field in first.split()[1:9]]  # user .. steal; guest is in user
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def wait_for_quiet(
    ceiling: float,
    patience: float,
    load: Callable[[], float] = lambda: os.getloadavg()[0],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Waits until the 1-minute load is below `ceiling`, at most `patience` seconds; returns
    what happened, for the report."""
    waited = 0.0
    while (now := load()) >= ceiling:
        if waited >= patience:
            minutes = waited / 60
            return f"load {now:.2f} still not below {ceiling} after {minutes:.0f} min; measured"
        print(f"  load {now:.2f}, waiting for < {ceiling}", file=sys.stderr, flush=True)
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
    return f"load {now:.2f} < {ceiling} after waiting {waited / 60:.1f} min"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if not args.module:
        sys.exit("name the benchmark module to run, e.g. bench.dispatcher")
    a, b = (
        Checkout(args.a, tuple(shlex.split(args.args_a))),
        Checkout(args.b, tuple(shlex.split(args.args_b))),
    )
    quiet = wait_for_quiet(args.quiet_load, args.quiet_wait) if args.quiet_load else ""
    a_runs, b_runs = interleave(
        args.runs, [lambda _: run_once(a, args.module), lambda _: run_once(b, args.module)]
    )
    print(f"A (before): {a.describe()}  {shlex.join(a.command(args.module))}")
    print(f"B (after):  {b.describe()}  {shlex.join(b.command(args.module))}")
    print(f"{args.runs} runs each, in turn A, B, A, B, ...; median (min–max), B/A per pair of runs")
    print(f"load average (1 min) at the start of each run: A {_loads(a_runs)}; B {_loads(b_runs)}")
    print(
        "CPUs busy outside the benchmark's process during each run (other work, and any server "
        f"it talks to): A {_others(a_runs)}; B {_others(b_runs)}"
    )
    print(f"seconds per run: A {_seconds(a_runs)}; B {_seconds(b_runs)}")
    if quiet:
        print(quiet)
    print()
    for line in render(compare([r.output for r in a_runs], [r.output for r in b_runs])):
        print(line)


def _loads(runs: Sequence[Run]) -> str:
    return " ".join(f"{run.load:.2f}" for run in runs)


def _others(runs: Sequence[Run]) -> str:
    return " ".join("?" if run.others is None else f"{run.others:.2f}" for run in runs)


def _seconds(runs: Sequence[Run]) -> str:
    return " ".join(f"{run.seconds:.0f}" for run in runs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=positive, default=DEFAULT_RUNS, help="runs of each side")
    parser.add_argument("--args-a", default="", help="extra arguments for A's runs only")
    parser.add_argument("--args-b", default="", help="extra arguments for B's runs only")
    parser.add_argument("--quiet-load", type=float, default=0.0, help="wait for a load below this")
    parser.add_argument("--quiet-wait", type=float, default=2400.0, help="but no longer than this")
    parser.add_argument("a", type=Path, help="the checkout before (with its .venv)")
    parser.add_argument("b", type=Path, help="the checkout after (with its .venv)")
    parser.add_argument("module", nargs=argparse.REMAINDER, help="MODULE [ARGS ...]")
    return parser


if __name__ == "__main__":
    main()
