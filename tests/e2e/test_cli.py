"""The `touchpoint` CLI as a subprocess: routing lines, reps, help, errors, and the changes an
operator makes (ticket status, hand-offs, undoing a merge of contacts), each recorded."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from storage.uow import Database
from tests.conversations.test_rep_handoff import add_rep
from tests.harness import BotHarness, FakeClock

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
        ["tickets", "set-status"],
        ["tickets", "note"],
        ["handoffs", "close"],
        ["handoffs", "assign"],
        ["contacts", "list"],
        ["contacts", "show"],
        ["contacts", "unmerge"],
        ["contacts", "merge"],
        ["contacts", "log"],
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


# --- changes an operator makes: each a touchpoint with the actor `operator` ----------------


def prepared(tmp_path: Path, talk: Callable[[BotHarness], Awaitable[None]]) -> Path:
    """The CLI's database, migrated by the CLI, then written by the bot itself in this process
    (`talk` is what customers said to it)."""
    upgraded(tmp_path)

    async def run() -> None:
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        try:
            await talk(BotHarness(database, FakeClock()))
        finally:
            await database.dispose()

    asyncio.run(run())
    return tmp_path


def shown(tmp_path: Path, *args: str) -> Any:
    done = touchpoint(tmp_path, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def said(tmp_path: Path, *args: str) -> str:
    done = touchpoint(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def in_sqlite(tmp_path: Path, statement: str) -> None:
    with closing(sqlite3.connect(tmp_path / "cli.db")) as connection, connection:
        connection.execute(statement)


async def ann_on_two_telegram_accounts(bot: BotHarness) -> None:
    """Ann's second account shares the phone her first one shared: the bot merges them."""
    old = bot.customer("1001", channel="telegram", name="Ann")
    await old.say("", shared_phone="+49 30 901820")
    new = bot.customer("2002", channel="telegram", name="Ann")
    await new.say("hello")
    await new.say("", shared_phone="+49 30 901820")


def test_contacts_unmerge_separates_two_merged_contacts_once(tmp_path: Path) -> None:
    prepared(tmp_path, ann_on_two_telegram_accounts)
    [merge_in] = shown(tmp_path, "contacts", "show", "1")["merges"]
    assert (merge_in["merge_id"], merge_in["direction"], merge_in["contact_id"]) == (1, "in", 2)
    assert "merge 1  in  from contact 2" in said(tmp_path, "contacts", "show", "1")

    assert said(tmp_path, "contacts", "unmerge", "1") == (
        "merge 1 undone: contacts 2 and 1 are apart again (moved back: identities 1, "
        "conversations 1, leads 0, tickets 0, hand-offs 0)\n"
    )

    again = touchpoint(tmp_path, "contacts", "unmerge", "1")
    assert again.returncode == 1
    assert again.stderr.startswith("touchpoint: merge 1 was already undone at ")
    missing = touchpoint(tmp_path, "contacts", "unmerge", "9")
    assert (missing.returncode, missing.stderr) == (1, "touchpoint: merge 9 not found\n")
    ann, second = shown(tmp_path, "contacts", "show", "1"), shown(tmp_path, "contacts", "show", "2")
    assert [i["address"] for i in ann["identities"]] == ["1001", "+4930901820"]
    assert [i["address"] for i in second["identities"]] == ["2002"]
    [merge_out] = second["merges"]
    assert (merge_out["direction"], merge_out["contact_id"]) == ("out", 1)
    assert merge_out["undone_at"] is not None
    for contact in (ann, second):
        [unmerged] = [t for t in contact["timeline"] if t["kind"] == "contacts_unmerged"]
        assert (unmerged["actor"], unmerged["channel"]) == ("operator", "cli")
    assert "hello" not in [t["details"].get("text") for t in ann["timeline"]]
    listed = shown(tmp_path, "touchpoints", "list", "--contact", "2", "--kind", "contacts_unmerged")
    assert [(t["contact_id"], t["actor"]) for t in listed] == [(2, "operator")]


async def ann_and_bob(bot: BotHarness) -> None:
    """Two people writing on Telegram: two contacts; Olga and the manager Marina register."""
    await bot.customer("1001", channel="telegram", name="Ann").say("hello")
    await bot.customer("2002", channel="telegram", name="Ann L").say("it is Ann again")
    await add_rep(bot, "Olga", telegram="4242", on_duty=False)
    await add_rep(bot, "Marina", telegram="4343", role="manager", on_duty=False)


def test_a_manager_merges_two_contacts_and_a_call_is_logged(tmp_path: Path) -> None:
    prepared(tmp_path, ann_and_bob)

    refused = touchpoint(tmp_path, "contacts", "merge", "2", "1", "--as", "Olga")
    assert (refused.returncode, refused.stderr) == (
        1, "touchpoint: --as Olga: Olga is a rep; only a manager may do this\n",
    )  # fmt: skip
    same = touchpoint(tmp_path, "contacts", "merge", "1", "1", "--as", "Marina")
    assert same.stderr == "touchpoint: contact 1 cannot be merged into itself\n"
    assert said(tmp_path, "contacts", "merge", "2", "1", "--as", "Marina") == (
        "contact 2 merged into contact 1 (merge 1)\n"
    )
    ann = shown(tmp_path, "contacts", "show", "1")
    assert [i["address"] for i in ann["identities"]] == ["1001", "2002"]
    [merged] = [t for t in ann["timeline"] if t["kind"] == "contacts_merged"]
    assert (merged["actor"], merged["channel"], merged["details"]["rep_id"]) == (
        "operator", "cli", 2,
    )  # fmt: skip
    assert "it is Ann again" in [t["details"].get("text") for t in ann["timeline"]]

    assert said(
        tmp_path, "contacts", "log", "1", "--kind", "call", "--outcome", "Wants 3 more", "--as",
        "Olga",
    ) == "contact 1: call logged\n"  # fmt: skip
    [logged] = [t for t in shown(tmp_path, "contacts", "show", "1")["timeline"]
                if t["kind"] == "offline_logged"]  # fmt: skip
    assert (logged["actor"], logged["channel"]) == ("operator", "cli")
    assert (logged["details"]["medium"], logged["details"]["outcome"]) == ("call", "Wants 3 more")
    assert logged["details"]["rep_id"] == 1
    fax = touchpoint(tmp_path, "contacts", "log", "1", "--kind", "fax", "--outcome", "x",
                     "--as", "Olga")  # fmt: skip
    assert (fax.returncode, fax.stderr) == (
        2, "touchpoint: --kind: use one of call, meeting, note\n",
    )  # fmt: skip
    nobody = touchpoint(tmp_path, "contacts", "log", "9", "--kind", "note", "--outcome", "x",
                        "--as", "Olga")  # fmt: skip
    assert (nobody.returncode, nobody.stderr) == (1, "touchpoint: contact 9 not found\n")


async def a_ticket_and_a_handoff(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram="4242", on_duty=False)  # the hand-off waits for her
    alice = bot.customer("alice")
    await alice.say("My coffee machine arrived broken, the water tank is cracked")
    await alice.say("/human")
    await bot.customer("bob").say("The pump of my coffee machine is broken and leaks water")


def test_a_ticket_status_set_from_the_cli_is_a_touchpoint_of_the_rep_named(
    tmp_path: Path,
) -> None:
    prepared(tmp_path, a_ticket_and_a_handoff)
    in_sqlite(tmp_path, "UPDATE service_requests SET conversation_id = NULL WHERE id = 2")
    outbox_before = shown(tmp_path, "touchpoints", "list", "--kind", "message_out")

    assert said(tmp_path, "tickets", "set-status", "1001", "resolved", "--as", "olga") == (
        "ticket #1001 is now resolved\n"
    )
    assert said(tmp_path, "tickets", "set-status", "1001", "resolved", "--as", "1") == (
        "ticket #1001 was already resolved\n"
    )
    assert said(tmp_path, "tickets", "set-status", "1002", "waiting", "--as", "Olga") == (
        "ticket #1002 is now waiting\n"
    )

    changed = shown(tmp_path, "touchpoints", "list", "--kind", "ticket_status_changed")
    assert [
        (t["actor"], t["contact_id"], t["conversation_id"], t["channel"], t["details"])
        for t in changed
    ] == [
        (
            "operator", 1, 1, "console",
            {"ticket": 1001, "from": "open", "to": "resolved", "rep_id": 1},
        ),
        ("operator", 2, None, "cli", {"ticket": 1002, "from": "open", "to": "waiting", "rep_id": 1}),
    ]  # fmt: skip
    assert shown(tmp_path, "tickets", "show", "1001")["status"] == "resolved"
    # Resolved: the customer is told on their conversation, in a turn recorded there.
    told = shown(tmp_path, "touchpoints", "list", "--kind", "message_out")[len(outbox_before) :]
    assert [(t["conversation_id"], t["details"]["text"]) for t in told] == [
        (1, "Good news: your request #1001 has been resolved. If something is still not right, "
         "just write here and we'll look at it again."),
        (1, "How satisfied are you with how we handled request #1001? Please rate it from 1 "
         "(poor) to 5 (excellent)."),
    ]  # fmt: skip


def test_a_ticket_change_needs_a_registered_rep_and_a_known_status(tmp_path: Path) -> None:
    prepared(tmp_path, a_ticket_and_a_handoff)
    nobody = touchpoint(tmp_path, "tickets", "set-status", "1001", "resolved", "--as", "Zed")
    assert (nobody.returncode, nobody.stderr) == (
        1,
        "touchpoint: --as Zed: no rep or manager of that name (touchpoint reps list)\n",
    )
    missing = touchpoint(tmp_path, "tickets", "note", "1001", "called the customer")
    assert missing.returncode == 2 and "--as" in missing.stderr
    unknown = touchpoint(tmp_path, "tickets", "set-status", "1001", "done", "--as", "Olga")
    assert (unknown.returncode, unknown.stderr) == (2, "touchpoint: unknown status 'done'\n")
    assert shown(tmp_path, "tickets", "show", "1001")["status"] == "open"
    assert shown(tmp_path, "touchpoints", "list", "--kind", "ticket_noted") == []


def test_a_note_from_the_cli_is_kept_on_the_ticket_with_the_rep(tmp_path: Path) -> None:
    prepared(tmp_path, a_ticket_and_a_handoff)
    outbox_before = shown(tmp_path, "touchpoints", "list", "--kind", "message_out")

    assert said(
        tmp_path, "tickets", "note", "1001", "Replacement tank sent on Monday", "--as", "Olga"
    ) == ("ticket #1001: note added by Olga\n")

    notes = shown(tmp_path, "tickets", "show", "1001")["notes"]
    assert [(n["author"], n["text"]) for n in notes][-1] == (
        "rep:1",
        "Replacement tank sent on Monday",
    )
    [noted] = shown(tmp_path, "touchpoints", "list", "--kind", "ticket_noted")
    assert (noted["actor"], noted["conversation_id"], noted["details"]) == (
        "operator",
        1,
        {"ticket": 1001, "rep_id": 1, "text": "Replacement tank sent on Monday"},
    )
    # A note is the team's: the customer is not messaged.
    assert shown(tmp_path, "touchpoints", "list", "--kind", "message_out") == outbox_before
    # A ticket without a conversation: the note goes on its contact's timeline.
    in_sqlite(tmp_path, "UPDATE service_requests SET conversation_id = NULL WHERE id = 2")
    said(tmp_path, "tickets", "note", "1002", "Pump ordered", "--as", "Olga")
    last = shown(tmp_path, "touchpoints", "list", "--kind", "ticket_noted")[-1]
    assert (last["contact_id"], last["conversation_id"], last["channel"]) == (2, None, "cli")


def test_a_handoff_closed_from_the_cli_is_closed_by_the_operator(tmp_path: Path) -> None:
    prepared(tmp_path, a_ticket_and_a_handoff)

    assert said(tmp_path, "handoffs", "close", "1", "--summary", "called her back") == (
        "hand-off 1 closed\n"
    )

    [closed] = shown(tmp_path, "touchpoints", "list", "--kind", "closed")
    assert (closed["actor"], closed["details"]["summary"]) == ("operator", "called her back")
    again = touchpoint(tmp_path, "handoffs", "close", "1")
    assert (again.returncode, again.stderr) == (1, "touchpoint: hand-off 1 is not open\n")


async def a_lead_and_a_message_with_no_rep(bot: BotHarness) -> None:
    anna = bot.customer("anna")
    await anna.say("I need a quote for 25 office chairs for our team")
    await anna.say("Anna Petrova")
    await anna.press("lead:skip")
    await anna.say("anna@northwind.example")
    await anna.press("lead:skip")
    await anna.press("lead:skip")
    await anna.press("lead:confirm")
    await anna.say("/human")
    await anna.say("Please call me back about delivery")


def test_what_nobody_could_be_told_of_is_listed_as_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    prepared(tmp_path, a_lead_and_a_message_with_no_rep)

    [lead] = shown(tmp_path, "leads", "list")
    assert (lead["status"], lead["name"]) == ("waiting", "Anna Petrova")
    assert [row["id"] for row in shown(tmp_path, "leads", "list", "--status", "waiting")] == [1]
    assert shown(tmp_path, "leads", "list", "--status", "new") == []
    [row] = [line for line in said(tmp_path, "leads", "list").splitlines() if "Anna" in line]
    assert "waiting" in row
    # The message the bot passed on is a ticket the team sees, with the customer's words.
    [ticket] = shown(tmp_path, "tickets", "list")
    assert (ticket["number"], ticket["category"], ticket["status"]) == (1001, "message", "open")
    notes = shown(tmp_path, "tickets", "show", "1001")["notes"]
    assert [(n["author"], n["text"]) for n in notes] == [
        ("customer", "Please call me back about delivery")
    ]
    kinds = [t["kind"] for t in shown(tmp_path, "contacts", "show", "1")["timeline"]]
    assert {"lead_waiting", "nobody_available", "message_passed_on"} <= set(kinds)
    assert shown(tmp_path, "handoffs", "list") == []


def test_db_prune_and_contacts_forget(tmp_path: Path) -> None:
    upgraded(tmp_path)
    done = touchpoint(tmp_path, "db", "prune")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "pruned: raw mail 0, files 0, message texts 0, outbox texts 0, dead letters 0, "
        "webhook bodies 0"
    )
    missing = touchpoint(tmp_path, "contacts", "forget", "7", "--yes")
    assert (missing.returncode, missing.stderr.strip()) == (1, "touchpoint: contact 7 not found")
    refused = touchpoint(tmp_path, "contacts", "forget", "7", stdin="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stdout + refused.stderr
    kinds = [
        row["kind"]
        for row in json.loads(touchpoint(tmp_path, "touchpoints", "list", "--json").stdout)
    ]
    assert kinds == ["pruned"]


async def a_handoff_and_an_email_rep(bot: BotHarness) -> None:
    await a_ticket_and_a_handoff(bot)
    await add_rep(bot, "Ivan", email="ivan@shop.example")


def test_assigning_to_a_rep_this_deployment_cannot_reach_is_refused(tmp_path: Path) -> None:
    prepared(tmp_path, a_handoff_and_an_email_rep)  # neither Telegram nor email configured here

    refused = touchpoint(tmp_path, "handoffs", "assign", "1", "--rep", "2")

    assert (refused.returncode, refused.stderr) == (
        1,
        "touchpoint: rep 2 (Ivan) is reached by email, which is not configured here: "
        "the card could not be sent\n",
    )
    shown_handoff = shown(tmp_path, "handoffs", "show", "1")
    assert (shown_handoff["status"], shown_handoff["rep_id"]) == ("queued", None)
    assert "reassigned" not in [t["kind"] for t in shown_handoff["timeline"]]
