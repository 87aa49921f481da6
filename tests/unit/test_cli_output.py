"""What the CLI prints for people: readable at 80 columns, sections, nothing that acts on the
terminal."""

from __future__ import annotations

import pytest

from bot.cli import output as out

LEAD = {
    "id": 7,
    "status": "new",
    "score": 80,
    "name": "Ann \x1b[31mLee\x07",
    "company": "Initech International Holdings of Northern Europe",
    "email": "ann@initech.example",
    "phone": "+447911123456",
    "need": "A quote for forty standing desks with cable trays for our new Berlin office " * 3,
    "source": "spring_promo",
    "created_at": "2026-03-02T09:00:00+00:00",
}


@pytest.fixture(autouse=True)
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_a_list_fits_80_columns_one_line_per_row_cut_with_an_ellipsis(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out.rows([LEAD, {**LEAD, "id": 8}], False, out.LEAD_COLUMNS)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 6  # top, header, rule, two rows, bottom: no cell stacked on lines
    assert "…" in lines[3]


def test_languages_read_as_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    out.rows([{"id": 1, "languages": ["ru", "en"]}], False, ("id", "languages"))
    assert "ru, en" in capsys.readouterr().out


def test_control_characters_never_reach_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    out.record(LEAD, False)
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown
    assert "Ann \\x1b[31mLee\\x07" in shown  # shown escaped, as received


def test_json_output_keeps_the_text_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    out.record(LEAD, True)
    assert '"name": "Ann \\u001b[31mLee\\u0007"' in capsys.readouterr().out


def test_lists_of_a_record_are_sections_of_their_own(capsys: pytest.CaptureFixture[str]) -> None:
    handoff = {
        "id": 3,
        "status": "claimed",
        "messages": [
            {"direction": "in", "text": "I want to talk to a person"},
            {"direction": "out", "text": "I'm passing your conversation to a person"},
        ],
    }
    out.record(handoff, False)
    assert capsys.readouterr().out.splitlines() == [
        "              id: 3",
        "          status: claimed",
        "",
        "messages:",
        "  in  I want to talk to a person",
        "  out  I'm passing your conversation to a person",
    ]
