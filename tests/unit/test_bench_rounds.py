"""Repeated benchmark runs: the order they run in, and how their figures are summarised."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from bench.rounds import Spread, add_runs_argument, aligned, interleave, interleave_async, ratios


def test_a_spread_is_the_median_and_the_extremes() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(median=2.0, low=1.0, high=3.0, runs=3)
    assert Spread.of([4.0, 1.0, 2.0, 10.0]) == Spread(median=3.0, low=1.0, high=10.0, runs=4)


def test_a_spread_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Spread.of([])


def test_a_spread_prints_as_median_then_min_to_max() -> None:
    assert Spread.of([1405.4, 1390.2, 1420.9]).format(",.0f") == "1,405 (1,390–1,421)"
    assert Spread.of([0.291, 0.28, 0.3]).format(".2f") == "0.29 (0.28–0.30)"


def test_a_single_run_prints_as_its_value_alone() -> None:
    assert Spread.of([1405.4]).format(".0f") == "1405"


def test_the_ratio_is_taken_per_round_not_between_medians() -> None:
    baseline = [100.0, 200.0, 400.0]
    candidate = [50.0, 50.0, 400.0]
    # per round: 0.5, 0.25, 1.0; the ratio of the medians would be 50/200 = 0.25
    assert ratios(candidate, baseline) == Spread(median=0.5, low=0.25, high=1.0, runs=3)


def test_ratios_need_as_many_candidate_runs_as_baseline_runs() -> None:
    with pytest.raises(ValueError, match="2 candidate runs against 3 baseline runs"):
        ratios([1.0, 2.0], [1.0, 2.0, 3.0])


def test_contenders_take_turns_round_after_round() -> None:
    calls: list[str] = []

    def contender(name: str, figure: float) -> Callable[[int], float]:
        def run(round_number: int) -> float:
            calls.append(f"{name}{round_number}")
            return figure + round_number

        return run

    baseline, candidate = interleave(3, [contender("b", 10.0), contender("c", 20.0)])
    assert calls == ["b0", "c0", "b1", "c1", "b2", "c2"]
    assert baseline == [10.0, 11.0, 12.0]
    assert candidate == [20.0, 21.0, 22.0]


async def test_coroutine_contenders_take_turns_each_finishing_before_the_next() -> None:
    calls: list[str] = []

    async def baseline(round_number: int) -> int:
        calls.append(f"baseline {round_number}")
        return round_number

    async def candidate(round_number: int) -> int:
        calls.append(f"candidate {round_number}")
        return 10 * round_number

    assert await interleave_async(2, [baseline, candidate]) == [[0, 1], [0, 10]]
    assert calls == ["baseline 0", "candidate 0", "baseline 1", "candidate 1"]


def test_columns_are_as_wide_as_their_widest_cell() -> None:
    rows = [["baseline", "4,808 (4,700–4,900)", "1.00"], ["dispatcher", "706", "0.33 (0.3–0.4)"]]
    assert aligned("{} {} turns/s  ratio {}", rows) == [
        "baseline   4,808 (4,700–4,900) turns/s  ratio           1.00",
        "dispatcher                 706 turns/s  ratio 0.33 (0.3–0.4)",
    ]


def test_runs_default_to_three_and_must_be_positive() -> None:
    parser = argparse.ArgumentParser()
    add_runs_argument(parser)
    assert parser.parse_args([]).runs == 3
    assert parser.parse_args(["--runs", "5"]).runs == 5
    with pytest.raises(SystemExit):
        parser.parse_args(["--runs", "0"])
