"""The held-aside routing sets stay what the README says they are."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.route_held_aside import DATA, DATA_2, DATA_3, DATA_4, DATA_5, DEV, load_rows


@pytest.mark.parametrize(
    "path",
    [DATA, DATA_2, DATA_3, DATA_4, DATA_5],
    ids=["set 1", "set 2", "set 3", "set 4", "set 5"],
)
def test_a_set_has_150_rows_a_language_each_labelled_with_a_route_and_none_twice(
    path: Path,
) -> None:
    rows = load_rows(path)

    assert all(n >= 150 for n in Counter(row.lang for row in rows).values())
    assert {row.lang for row in rows} == {"en", "ru"}
    assert {row.label for row in rows} == {"LEAD", "SERVICE", "HUMAN", "OTHER"}
    texts = [" ".join(row.text.casefold().split()) for row in rows]
    assert len(set(texts)) == len(texts)


def test_the_sets_share_no_text() -> None:
    def texts(path: Path) -> set[str]:
        return {" ".join(row.text.casefold().split()) for row in load_rows(path)}

    assert not texts(DATA) & texts(DATA_2)
    assert not (texts(DATA) | texts(DATA_2)) & texts(DATA_3)
    assert not (texts(DATA) | texts(DATA_2) | texts(DATA_3) | texts(DEV)) & texts(DATA_4)
    earlier = texts(DATA) | texts(DATA_2) | texts(DATA_3) | texts(DATA_4) | texts(DEV)
    assert not earlier & texts(DATA_5)
