"""`touchpoint shell` as a real subprocess, then the CLI reads back what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LEAD_CONVERSATION = [
    "hello",
    "I need a quote for 25 ergonomic office chairs",
    "Anna Petrova",
    "anna@northwind.example",
    "Northwind",
    "about 5000 EUR, next month",
    "yes",
    "My order 5531 arrived damaged, two chairs have broken armrests",
    "what is the status of #1001?",
    "I want to talk to a human",
    "Please call me about the broken chairs",
    "/help",
]


def touchpoint(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def json_of(env: dict[str, str], *args: str) -> Any:
    done = touchpoint(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))
    }
    base.update(
        NO_COLOR="1", COMPANY_NAME="Northwind Test", CATALOG_DIR="", DATABASE_URL=database_url
    )
    return base


def test_a_lead_typed_into_the_shell_is_listed_by_the_cli(env: dict[str, str]) -> None:
    done = touchpoint(env, "shell", "--as", "Anna", stdin="\n".join(LEAD_CONVERSATION) + "\n")
    assert done.returncode == 0, done.stderr
    transcript = done.stdout
    greeting = transcript.index("bot> Hello! I'm the Northwind Test assistant.")
    assert greeting < transcript.index("you> hello")  # the bot speaks first
    assert "bot> Hello again! How can I help?" in transcript  # and is not introduced twice
    assert "you> Anna Petrova" in transcript
    assert "Your request #1001 is open." in transcript
    assert "Request #1001 (delivery problem): open" in transcript
    # No rep is registered: the bot says so, passes the message on, and goes on answering.
    assert "bot> Nobody from our team is available right now" in transcript
    assert "bot> I've passed this on to our team: it's saved with your request #1001." in transcript
    assert transcript.rindex("bot> Here is what I can do:") > transcript.index("I've passed")

    [lead] = json_of(env, "leads", "list")
    assert lead["name"] == "Anna Petrova"
    assert lead["company"] == "Northwind"
    assert lead["email"] == "anna@northwind.example"
    assert lead["status"] == "waiting"  # nobody could be told of it
    assert lead["need"] == "I need a quote for 25 ergonomic office chairs"
    assert json_of(env, "leads", "show", str(lead["id"]))["id"] == lead["id"]

    [ticket] = json_of(env, "tickets", "list")
    assert (ticket["number"], ticket["status"]) == (1001, "open")
    notes = json_of(env, "tickets", "show", "1001")["notes"]
    assert [note["author"] for note in notes] == ["customer", "customer"]
    assert notes[-1]["text"] == "Please call me about the broken chairs"
    assert json_of(env, "handoffs", "list") == []

    kinds = [row["kind"] for row in json_of(env, "touchpoints", "list", "--limit", "1000")]
    for kind in (
        "message_in",
        "message_out",
        "delivered",
        "lead_captured",
        "lead_waiting",
        "ticket_opened",
        "nobody_available",
        "message_passed_on",
    ):
        assert kind in kinds
    assert (
        kinds.index("lead_captured")
        < kinds.index("ticket_opened")
        < kinds.index("nobody_available")
        < kinds.index("message_passed_on")
    )

    [contact] = json_of(env, "contacts", "list")
    shown = json_of(env, "contacts", "show", str(contact["id"]))
    assert {"channel": "email", "address": "anna@northwind.example"}.items() <= shown["identities"][
        1
    ].items()
    timeline = [t["kind"] for t in shown["timeline"] if t["kind"] != "delivered"]
    assert timeline[:4] == [
        "conversation_opened",  # the bot greets first: the greeting and the menu
        "message_out",
        "message_out",
        "message_in",
    ]


def test_a_second_session_as_the_same_person_continues_the_same_contact(
    env: dict[str, str],
) -> None:
    first = touchpoint(env, "shell", "--as", "Ivan", stdin="Хочу купить 3 ноутбука для офиса\n")
    assert "Как вас зовут?" in first.stdout
    second = touchpoint(env, "shell", "--as", "Ivan", stdin="Иван\n")
    # The new process continues the lead flow at the step where the first one stopped.
    assert "Как с вами связаться нашему менеджеру?" in second.stdout
    assert len(json_of(env, "contacts", "list")) == 1


def test_a_bad_setting_is_one_clear_line(env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": "mysql://nobody@127.0.0.1/x"}
    done = touchpoint(env, "leads", "list")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "touchpoint: setting DATABASE_URL is invalid: use sqlite+aiosqlite:///PATH or "
        "postgresql+asyncpg://USER:PASS@HOST/DB"
    ]


def test_run_continues_the_conversation_where_the_last_run_stopped(env: dict[str, str]) -> None:
    first = touchpoint(env, "run", stdin="I need a quote for 25 office chairs\n")
    assert first.returncode == 0, first.stderr
    assert "bot> Who should our sales rep contact?" in first.stdout

    # Started again with nothing typed: the same customer, asked the pending question again.
    second = touchpoint(env, "run", stdin="")
    assert second.returncode == 0, second.stderr
    assert "bot> Hello!" not in second.stdout
    resumed = second.stdout.index("bot> Let's continue where we stopped.")
    assert second.stdout.index("bot> Who should our sales rep contact?") > resumed

    # `shell` without --as is that same customer too.
    third = touchpoint(env, "shell", stdin="Anna Petrova, anna@northwind.example\n")
    assert "bot> Which company are you with?" in third.stdout
    [contact] = json_of(env, "contacts", "list")
    assert contact["id"] == 1
