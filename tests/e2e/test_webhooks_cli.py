"""`touchpoint webhooks` as a subprocess: adding an endpoint (its secret printed once, never
listed), the HTTPS rule and the event names, removing, and what `redeliver` refuses."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.test_cli import touchpoint

pytestmark = pytest.mark.slow


def test_add_prints_the_secret_once_and_list_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    added = touchpoint(
        tmp_path, "webhooks", "add", "https://crm:pa55word@crm.example/hook?token=0123456789",
        "--events", "lead.created,lead.updated",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    first, secret_line, advice = added.stdout.splitlines()
    assert first == (
        "webhook 1 added: https://crm:***@crm.example/hook?token=*** (lead.created, lead.updated)"
    )
    assert secret_line.startswith("secret: whsec_")
    secret = secret_line.removeprefix("secret: ")
    assert len(secret) == len("whsec_") + 48
    assert "not shown again" in advice
    everything = touchpoint(tmp_path, "webhooks", "add", "http://127.0.0.1:8080/hook")
    assert everything.returncode == 0, everything.stderr

    listed = json.loads(touchpoint(tmp_path, "webhooks", "list", "--json").stdout)
    assert [(w["id"], w["url"], w["events"]) for w in listed] == [
        (1, "https://crm:***@crm.example/hook?token=***", ["lead.created", "lead.updated"]),
        (2, "http://127.0.0.1:8080/hook", [
            "lead.created", "lead.updated", "ticket.resolved", "csat.rated",
        ]),
    ]  # fmt: skip
    assert (listed[0]["pending"], listed[0]["delivered"], listed[0]["dead"]) == (0, 0, 0)
    table = touchpoint(tmp_path, "webhooks", "list").stdout
    assert "crm.example/hook" in table
    for shown in (table, json.dumps(listed)):
        assert secret not in shown and "pa55word" not in shown and "0123456789" not in shown
    with closing(sqlite3.connect(tmp_path / "cli.db")) as db:  # kept to sign, as given
        stored = db.execute("SELECT secret, url FROM webhooks WHERE id = 1").fetchone()
    assert stored == (secret, "https://crm:pa55word@crm.example/hook?token=0123456789")


@pytest.mark.parametrize("url", ["http://crm.example/hook", "crm.example/hook"])
def test_a_url_that_is_not_https_is_refused_in_one_line(tmp_path: Path, url: str) -> None:
    refused = touchpoint(tmp_path, "webhooks", "add", url)
    assert refused.returncode == 2
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith(
        "touchpoint: a webhook URL must be https:// (http:// only to 127.0.0.0/8, ::1 or localhost)"
    )
    assert not (tmp_path / "cli.db").exists()  # refused before anything was stored


def test_unknown_event_names_are_refused(tmp_path: Path) -> None:
    refused = touchpoint(
        tmp_path, "webhooks", "add", "https://crm.example/hook", "--events", "lead.created,lead.won"
    )
    assert refused.returncode == 2
    assert "unknown event 'lead.won'" in refused.stderr
    assert "lead.created,lead.updated,ticket.resolved,csat.rated" in refused.stderr


def test_remove_and_what_redeliver_refuses(tmp_path: Path) -> None:
    touchpoint(tmp_path, "webhooks", "add", "https://crm.example/hook")
    with closing(sqlite3.connect(tmp_path / "cli.db")) as db, db:
        db.execute(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event, body, status, attempts,"
            " next_attempt_at, created_at) VALUES (1, 'e1', 'lead.created', '{}', 'pending', 0,"
            " '2026-03-02 09:00:00', '2026-03-02 09:00:00')"
        )
    pending = touchpoint(tmp_path, "webhooks", "redeliver", "1")
    assert (pending.returncode, pending.stderr.strip()) == (
        1, "touchpoint: delivery 1 cannot be sent again: it is pending",
    )  # fmt: skip
    [delivery] = json.loads(touchpoint(tmp_path, "webhooks", "deliveries", "--json").stdout)
    assert (delivery["id"], delivery["event"], delivery["status"]) == (1, "lead.created", "pending")
    assert "body" not in delivery

    removed = touchpoint(tmp_path, "webhooks", "remove", "1")
    assert removed.stdout.strip() == "webhook 1 removed (1 undelivered events cancelled)"
    assert json.loads(touchpoint(tmp_path, "webhooks", "list", "--json").stdout) == []
    again = touchpoint(tmp_path, "webhooks", "remove", "1")
    assert (again.returncode, again.stderr.strip()) == (1, "touchpoint: webhook 1 not found")
    cancelled = touchpoint(tmp_path, "webhooks", "redeliver", "1")
    assert cancelled.stderr.strip() == (
        "touchpoint: delivery 1 cannot be sent again: its endpoint was removed"
    )
    unknown = touchpoint(tmp_path, "webhooks", "redeliver", "7")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "touchpoint: delivery 7 not found")
