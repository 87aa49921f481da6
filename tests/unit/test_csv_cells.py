"""What a CSV cell of an export becomes: formulas defused, times in the company's zone."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.cli.exports import CsvOut, safe_cell

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+7 999 123-45-67", "'+7 999 123-45-67"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tTAB", "'\tTAB"),
        ("Иван, «Ромашка»", "Иван, «Ромашка»"),
        ("a=b", "a=b"),
        (None, ""),
        (42, "42"),
        (["telegram:1", "email:a@b.example"], "telegram:1; email:a@b.example"),
        (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "2026-03-02T12:00:00+03:00"),
    ],
)
def test_a_cell(value: object, cell: str) -> None:
    assert safe_cell(value, MOSCOW) == cell


def test_rows_read_back_with_the_csv_module() -> None:
    stream = io.StringIO(newline="")
    out = CsvOut(stream, ("name", "need"), MOSCOW)
    out.row({"name": 'Пётр "Петя" Иванов', "need": "line one,\nline two"})
    out.row({"name": "=cmd|' /C calc'!A0", "need": ""})
    text = stream.getvalue()
    assert text.startswith("\ufeffname,need\r\n")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows == [
        {"name": 'Пётр "Петя" Иванов', "need": "line one,\nline two"},
        {"name": "'=cmd|' /C calc'!A0", "need": ""},
    ]
    assert out.count == 2
