"""Every mistake a person can make in the settings or at the command line ends in one line on
stderr naming what is wrong and how to fix it, and an exit status that is not 0: never a
traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BAD_DATABASE = "postgresql+asyncpg://touchpoint:pa55-word@127.0.0.1:1/touchpoint"


def touchpoint(
    tmp_path: Path, *args: str, stdin: str = "", **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(NO_COLOR="1", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    env.update(settings)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        check=False,
    )  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("touchpoint: ")
    return lines[0]


@pytest.mark.parametrize("command", [["run"], ["leads", "list"], ["db", "upgrade"]])
def test_an_unreachable_postgresql(tmp_path: Path, command: list[str]) -> None:
    line = one_line(touchpoint(tmp_path, *command, DATABASE_URL=BAD_DATABASE))
    assert line.startswith("touchpoint: the database cannot be reached: ")
    assert line.endswith("(is it running? check DATABASE_URL)")
    assert "pa55-word" not in line


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"TELEGRAM_BOT_TOKEN": "not a token"},
            "setting TELEGRAM_BOT_TOKEN is invalid: a bot token looks like 123456789:AAH...",
        ),
        ({"CATALOG_DIR": "/nonexistent/catalog"}, "setting CATALOG_DIR is invalid: "),
        ({"REP_HOURS": "09:00-18:00", "REP_DAYS": "funday"}, "REP_DAYS"),
        ({"DATABASE_URL": "mysql://x"}, "setting DATABASE_URL is invalid: use "),
    ],
)
@pytest.mark.parametrize("command", [["run"], ["route"], ["leads", "list"]])
def test_a_bad_setting(
    tmp_path: Path, command: list[str], settings: dict[str, str], expected: str
) -> None:
    assert expected in one_line(touchpoint(tmp_path, *command, **settings))


def test_a_catalog_folder_that_lacks_a_file(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "intents.toml").write_text("", encoding="utf-8")
    line = one_line(touchpoint(tmp_path, "route", CATALOG_DIR=str(catalog)))
    assert line.endswith(
        "lacks replies.toml, mood.toml (it needs intents.toml, replies.toml, mood.toml)"
    )


def test_a_broken_catalog_file(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for name in ("intents.toml", "replies.toml", "mood.toml"):
        (catalog / name).write_text("this is = = not toml", encoding="utf-8")
    line = one_line(touchpoint(tmp_path, "route", stdin="hello\n", CATALOG_DIR=str(catalog)))
    assert line.startswith("touchpoint: the catalog cannot be used: ")


def test_a_rep_added_twice(tmp_path: Path) -> None:
    assert touchpoint(tmp_path, "reps", "add", "Olga", "--telegram", "1001").returncode == 0
    line = one_line(touchpoint(tmp_path, "reps", "add", "Olga", "--telegram", "1001"))
    assert line == "touchpoint: --telegram 1001 is already rep 1's"


def test_a_removed_rep_added_again_is_offered_restore(tmp_path: Path) -> None:
    # Rep 1 took a hand-off, so removing them keeps them (inactive) with their addresses.
    assert touchpoint(tmp_path, "reps", "add", "Olga", "--telegram", "1001").returncode == 0
    prepare_a_handoff_of_rep_1(tmp_path)
    assert touchpoint(tmp_path, "reps", "remove", "1").returncode == 0
    line = one_line(touchpoint(tmp_path, "reps", "add", "Olga", "--telegram", "1001"))
    assert line == (
        "touchpoint: --telegram 1001 is rep 1's, who was removed: "
        "`touchpoint reps restore 1` brings them back"
    )
    restored = touchpoint(tmp_path, "reps", "restore", "1")
    assert (restored.returncode, restored.stdout.strip()) == (
        0, "rep 1 is back (off duty until they say /online)",
    )  # fmt: skip


def prepare_a_handoff_of_rep_1(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "cli.db")) as db:
        db.execute(
            "INSERT INTO contacts (id, display_name, created_at) VALUES (1, 'Ann', '2026-03-02')"
        )
        db.execute(
            "INSERT INTO conversations (id, contact_id, channel, thread_key, address, data, "
            "created_at, updated_at) VALUES (1, 1, 'telegram', '1', '1', '{}', '2026-03-02', "
            "'2026-03-02')"
        )
        db.execute(
            "INSERT INTO handoffs (conversation_id, contact_id, rep_id, reason, status, "
            "requested_at) VALUES (1, 1, 1, 'customer_asked', 'closed', '2026-03-02')"
        )
        db.commit()


def test_an_unknown_setting_is_named_with_the_nearest_known_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_TOKEN=123456:AAH-x\n", encoding="utf-8")
    done = touchpoint(tmp_path, "route", stdin="hello\n")
    assert done.returncode == 0
    assert done.stderr.strip().splitlines() == [
        "touchpoint: unknown setting TELEGRAM_TOKEN (did you mean TELEGRAM_BOT_TOKEN?): it is ignored"
    ]
