"""The `touchpoint` CLI as a subprocess: routing lines, reps, help, errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def touchpoint(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(NO_COLOR="1", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_route_prints_one_json_line_per_input_line(tmp_path: Path) -> None:
    lines = [
        "I'd like a quote for 200 branded mugs",
        json.dumps({"text": "где мой заказ? жду уже неделю", "lang": "ru"}, ensure_ascii=False),
        "Can I talk to a real person please",
        "",
        "{not json",
    ]
    done = touchpoint(tmp_path, "route", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["route"] for r in results] == ["lead", "service", "human", "other", "other"]
    assert results[1]["text"] == "где мой заказ? жду уже неделю"
    assert results[1]["lang"] == "ru"
    assert set(results[0]) == {"text", "lang", "route", "intent", "score", "matched"}
    assert results[0]["intent"].startswith("lead.") and results[0]["matched"]
    assert results[3] == {
        "text": "",
        "lang": "en",
        "route": "other",
        "intent": "none",
        "score": 0.0,
        "matched": "",
    }
    assert results[4]["text"] == "{not json"


def test_reps_add_list_update_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table's cells whole, not cut to 80 columns
    added = touchpoint(
        tmp_path,
        "reps",
        "add",
        "Olga",
        "--lang",
        "ru,en",
        "--telegram",
        "1001",
        "--email",
        "Olga@Shop.Example",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "rep 1 added"
    [rep] = json.loads(touchpoint(tmp_path, "reps", "list", "--json").stdout)
    assert (rep["name"], rep["languages"], rep["role"]) == ("Olga", ["ru", "en"], "rep")
    assert rep["identities"] == [
        {"channel": "telegram", "address": "1001"},
        {"channel": "email", "address": "olga@shop.example"},
    ]

    updated = touchpoint(
        tmp_path, "reps", "update", "1", "--role", "manager", "--capacity", "3",
        "--email", "olga@home.example",
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    [rep] = json.loads(touchpoint(tmp_path, "reps", "list", "--json").stdout)
    assert (rep["role"], rep["capacity"]) == ("manager", 3)
    assert [i["address"] for i in rep["identities"]] == ["1001", "olga@home.example"]
    table = touchpoint(tmp_path, "reps", "list").stdout
    assert "identities" in table and "telegram:1001, email:olga@home.example" in table

    assert touchpoint(tmp_path, "reps", "remove", "1").stdout.strip() == "rep 1 removed"
    assert json.loads(touchpoint(tmp_path, "reps", "list", "--json").stdout) == []
    assert touchpoint(tmp_path, "reps", "remove", "1").returncode == 1

    # Every change to the team is on the record, with the operator as its actor.
    changes = json.loads(touchpoint(tmp_path, "touchpoints", "list", "--json").stdout)
    assert [(t["kind"], t["actor"], t["channel"]) for t in changes] == [
        ("rep_added", "operator", "cli"),
        ("rep_updated", "operator", "cli"),
        ("rep_removed", "operator", "cli"),
    ]
    assert changes[0]["details"]["identities"] == ["telegram:1001", "email:olga@shop.example"]
    assert changes[1]["details"] == {
        "rep_id": 1, "role": "manager", "capacity": 3, "identities": ["email:olga@home.example"],
    }  # fmt: skip


def test_reps_add_rejects_bad_values_with_a_clear_message(tmp_path: Path) -> None:
    no_channel = touchpoint(tmp_path, "reps", "add", "Nobody")
    assert no_channel.returncode == 2
    assert "give --telegram and/or --email" in no_channel.stderr
    bad_email = touchpoint(tmp_path, "reps", "add", "Bad", "--email", "not-an-address")
    assert bad_email.returncode == 2
    assert "is not an email address" in bad_email.stderr
    bad_language = touchpoint(tmp_path, "reps", "add", "Bad", "--telegram", "5", "--lang", "de")
    assert "use en, ru or en,ru" in bad_language.stderr


def test_reps_add_and_update_refuse_an_address_of_another_rep(tmp_path: Path) -> None:
    assert touchpoint(tmp_path, "reps", "add", "Olga", "--telegram", "1001").returncode == 0
    assert (
        touchpoint(tmp_path, "reps", "add", "Ivan", "--email", "ivan@shop.example").returncode == 0
    )

    twin = touchpoint(tmp_path, "reps", "add", "Boris", "--telegram", "1001")
    moved = touchpoint(tmp_path, "reps", "update", "1", "--email", "IVAN@shop.example")
    unknown = touchpoint(tmp_path, "reps", "update", "9", "--telegram", "1009")

    assert (twin.returncode, twin.stderr.strip()) == (
        1,
        "touchpoint: --telegram 1001 is already rep 1's",
    )
    assert (moved.returncode, moved.stderr.strip()) == (
        1,
        "touchpoint: --email ivan@shop.example is already rep 2's",
    )
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "touchpoint: rep 9 not found")
    listed = json.loads(touchpoint(tmp_path, "reps", "list", "--json").stdout)
    assert [(rep["name"], rep["identities"]) for rep in listed] == [
        ("Olga", [{"channel": "telegram", "address": "1001"}]),
        ("Ivan", [{"channel": "email", "address": "ivan@shop.example"}]),
    ]


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        [],
        ["run"],
        ["shell"],
        ["route"],
        ["db", "upgrade"],
        ["leads", "list"],
        ["leads", "show"],
        ["tickets", "list"],
        ["tickets", "show"],
        ["handoffs", "list"],
        ["handoffs", "close"],
        ["contacts", "list"],
        ["contacts", "show"],
        ["touchpoints", "list"],
        ["reps", "add"],
        ["dead-letters", "list"],
    ):
        done = touchpoint(tmp_path, *command, "--help")
        assert done.returncode == 0, (command, done.stderr)
        assert "Usage:" in done.stdout


def upgraded(tmp_path: Path) -> Path:
    done = touchpoint(tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    return tmp_path


def tables_of(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_read_only_commands_never_migrate_and_say_so_when_the_schema_is_behind(
    tmp_path: Path,
) -> None:
    done = touchpoint(tmp_path, "leads", "list")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "touchpoint: the database schema is not up to date: run `touchpoint db upgrade` "
        "(or `touchpoint run`, which upgrades it)"
    )
    assert tables_of(tmp_path / "cli.db") == set()  # nothing was created
    upgraded(tmp_path)
    assert touchpoint(tmp_path, "leads", "list", "--json").stdout.strip() == "[]"


def test_show_of_a_missing_record_says_so(tmp_path: Path) -> None:
    done = touchpoint(upgraded(tmp_path), "tickets", "show", "4242")
    assert done.returncode == 1
    assert done.stderr.strip() == "touchpoint: ticket #4242 not found"


def test_empty_lists_are_empty_json_arrays(tmp_path: Path) -> None:
    upgraded(tmp_path)
    for group in ("leads", "tickets", "handoffs", "contacts", "touchpoints", "dead-letters"):
        done = touchpoint(tmp_path, group, "list", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []
