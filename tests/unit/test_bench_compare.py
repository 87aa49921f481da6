"""Reading two checkouts' benchmark outputs back as figures, side by side."""

from __future__ import annotations

from bench.compare import compare, parse, render, wait_for_quiet


def dispatcher_output(baseline: str, dispatcher: str, ratio: str) -> str:
    return (
        "2000 turns, 20 conversations in parallel, 2 CPUs\n"
        "\n"
        "== SQLite (WAL)\n"
        f"baseline insert    {baseline} turns/s   p50   4.10 ms   ratio 1.00\n"
        f"dispatcher         {dispatcher} turns/s   p50   9.00 ms   ratio {ratio}\n"
        "\n"
        "== PostgreSQL\n"
        "baseline insert    2161 turns/s   p50   4.10 ms   ratio 1.00\n"
    )


def test_lines_of_the_same_shape_are_told_apart_by_their_order() -> None:
    lines = parse(dispatcher_output("4808", "1405", "0.29"))
    sqlite = lines["baseline insert # turns/s p# # ms ratio #", 0]
    postgres = lines["baseline insert # turns/s p# # ms ratio #", 1]
    assert sqlite.numbers == ("4808", "50", "4.10", "1.00")
    assert postgres.value(0) == 2161.0


def test_numbers_with_thousands_separators_are_read_whole() -> None:
    (line,) = parse("== speed: 33,512 messages/s warm").values()
    assert line.numbers == ("33,512",)
    assert line.value(0) == 33512.0


def test_figures_that_change_are_summarised_for_each_side_with_the_ratio_per_pair() -> None:
    before = [
        dispatcher_output("4800", "1400", "0.29"),
        dispatcher_output("4900", "1300", "0.27"),
        dispatcher_output("4700", "1500", "0.32"),
    ]
    after = [
        dispatcher_output("4800", "2800", "0.58"),
        dispatcher_output("4900", "2700", "0.55"),
        dispatcher_output("4700", "2900", "0.62"),
    ]
    rows = compare(before, after)
    assert rows[:4] == [
        "2000 turns, 20 conversations in parallel, 2 CPUs",
        "",
        "== SQLite (WAL)",
        "baseline insert    [1] turns/s   p50   4.10 ms   ratio 1.00",
    ]
    # the same in both: B/A is 1 in every pair
    assert rows[4] == ["    [1]", "4800 (4700–4900)", "4800 (4700–4900)", "1.00 (1.00–1.00)"]
    assert rows[5] == "dispatcher         [1] turns/s   p50   9.00 ms   ratio [2]"
    # pairs: 2800/1400, 2700/1300, 2900/1500
    assert rows[6] == ["    [1]", "1400 (1300–1500)", "2800 (2700–2900)", "2.00 (1.93–2.08)"]
    assert rows[7] == ["    [2]", "0.29 (0.27–0.32)", "0.58 (0.55–0.62)", "2.00 (1.94–2.04)"]
    assert rows[8:] == [
        "",
        "== PostgreSQL",
        "baseline insert    2161 turns/s   p50   4.10 ms   ratio 1.00",
    ]


def test_a_line_only_one_side_prints_is_shown_with_a_dash_for_the_other() -> None:
    rows = compare(["rate 10 /s\n", "rate 12 /s\n"], ["rate 20 /s\nnew 1\n", "rate 22 /s\nnew 3\n"])
    assert rows == [
        "rate [1] /s",
        ["    [1]", "11 (10–12)", "21 (20–22)", "1.92 (1.83–2.00)"],
        "new [1]",
        ["    [1]", "–", "2 (1–3)", "–"],
    ]


def test_the_table_lines_up_the_figures_under_a_header() -> None:
    rows = compare(["x 1.5 y 100\n", "x 2.5 y 300\n"], ["x 1.0 y 200\n", "x 3.0 y 100\n"])
    assert render(rows) == [
        "            A (before)      B (after)               B/A",
        "x [1] y [2]",
        "    [1]  2.0 (1.5–2.5)  2.0 (1.0–3.0)  0.93 (0.67–1.20)",
        "    [2]  200 (100–300)  150 (100–200)  1.17 (0.33–2.00)",
    ]


def test_waiting_for_a_quiet_machine_polls_until_the_load_falls() -> None:
    loads = iter([1.8, 1.2, 0.7])
    slept: list[float] = []
    said = wait_for_quiet(1.0, 2400.0, load=lambda: next(loads), sleep=slept.append)
    assert slept == [30.0, 30.0]
    assert said == "load 0.70 < 1.0 after waiting 1.0 min"


def test_waiting_gives_up_after_its_patience_and_says_so() -> None:
    slept: list[float] = []
    said = wait_for_quiet(1.0, 90.0, load=lambda: 2.5, sleep=slept.append)
    assert slept == [30.0, 30.0, 30.0]
    assert said == "load 2.50 still not below 1.0 after 2 min; measured"
