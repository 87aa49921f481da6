"""The held-aside routing set stays what the README says it is."""

from __future__ import annotations

from collections import Counter

from bench.route_held_aside import DATA, load_rows


def test_the_set_has_150_rows_a_language_each_labelled_with_a_route_and_none_twice() -> None:
    rows = load_rows(DATA)

    assert all(n >= 150 for n in Counter(row.lang for row in rows).values())
    assert {row.lang for row in rows} == {"en", "ru"}
    assert {row.label for row in rows} == {"LEAD", "SERVICE", "HUMAN", "OTHER"}
    texts = [" ".join(row.text.casefold().split()) for row in rows]
    assert len(set(texts)) == len(texts)
