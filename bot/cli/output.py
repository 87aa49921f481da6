"""Printing records for people (tables) and for programs (JSON)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bot.records import Rep, Ticket
from bot.redaction import redact

LEAD_COLUMNS = (
    "id",
    "status",
    "score",
    "name",
    "company",
    "email",
    "phone",
    "need",
    "source",
    "created_at",
)
TICKET_COLUMNS = ("number", "status", "category", "contact_id", "summary", "updated_at")
HANDOFF_COLUMNS = (
    "id",
    "status",
    "reason",
    "contact_id",
    "conversation_id",
    "rep_id",
    "requested_at",
)
CONTACT_COLUMNS = ("id", "display_name", "company", "language", "created_at")
TOUCHPOINT_COLUMNS = ("id", "occurred_at", "contact_id", "channel", "actor", "kind", "details")
REP_COLUMNS = (
    "id",
    "name",
    "role",
    "languages",
    "identities",
    "capacity",
    "on_duty",
    "active",
)
DEAD_LETTER_COLUMNS = ("id", "channel", "external_id", "status", "error", "created_at")
CELL_WIDTH = 60


def echo(text: str) -> None:
    """Print for a person or a program, never a configured secret (a stored error may quote
    one from before it was redacted, or from a version that did not)."""
    typer.echo(redact(text))


def plain(item: Any) -> dict[str, Any]:
    """A record as a JSON-ready dict."""
    is_record = dataclasses.is_dataclass(item) and not isinstance(item, type)
    data = dataclasses.asdict(item) if is_record else dict(item)
    return {key: _jsonable(value) for key, value in data.items()}


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    return {"number": ticket.number, **plain(ticket)}


def note_view(author: str, text: str, created_at: datetime) -> dict[str, Any]:
    return {"author": author, "text": text, "created_at": created_at.isoformat()}


def rep_view(rep: Rep) -> dict[str, Any]:
    """A rep for programs: its identities as `{"channel", "address"}` objects, preferred first."""
    identities = [{"channel": a.channel, "address": a.value} for a in rep.identities]
    return {**plain(rep), "identities": identities}


def reps(items: Sequence[Rep], as_json: bool) -> None:
    """Reps as JSON, or as a table whose `identities` cell reads `telegram:123, email:a@b`."""
    views = [rep_view(rep) for rep in items]
    if not as_json:
        for view, rep in zip(views, items, strict=True):
            view["identities"] = ", ".join(f"{a.channel}:{a.value}" for a in rep.identities)
    rows(views, as_json, REP_COLUMNS)


def rows(items: Sequence[Any], as_json: bool, columns: Sequence[str]) -> None:
    views = [plain(item) for item in items]
    if as_json:
        echo(json.dumps(views, ensure_ascii=False, indent=2))
        return
    table = Table(*columns)
    for column in table.columns:  # a cell too long is cut with "…", never stacked letter-wise
        column.no_wrap, column.overflow = True, "ellipsis"
    for view in views:
        table.add_row(*(_cell(view.get(column)) for column in columns))
    console = Console(soft_wrap=False, record=True, file=io.StringIO())
    console.print(table)
    echo(console.export_text(styles=bool(console.color_system)).rstrip("\n"))


def record(item: Any, as_json: bool) -> None:
    """One record: `key: value` lines, then each list as a section of its own lines."""
    view = plain(item)
    if as_json:
        echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    sections = {k: v for k, v in view.items() if isinstance(v, list) and _are_records(v)}
    for key, value in view.items():
        if key not in sections:
            echo(f"{key:>16}: {_cell(value, limit=None)}")
    for key, items in sections.items():
        echo(f"\n{key}:")
        for entry in items:
            echo(f"  {_line(entry)}")


def _are_records(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(value, dict) for value in values)


def _line(entry: Mapping[str, Any]) -> str:
    """A record of a section on one line: its values, the longest cut short."""
    return "  ".join(_cell(value) for value in entry.values() if value not in (None, "", {}))


def contact(view: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    hidden = ("timeline", "leads", "tickets", "merges")
    record({k: v for k, v in view.items() if k not in hidden}, False)
    if view["merges"]:
        echo("\nmerges:")
        for merge in view["merges"]:
            echo(f"  {_merge_line(merge)}")
    echo("\ntimeline:")
    for event in view["timeline"]:
        who = f"{event['channel']:<9} {event['actor']:<8} {event['kind']:<20}"
        echo(f"  {event['occurred_at'][:19]}  {who} {_cell(event['details'])}")


def lead(view: Mapping[str, Any], zone: tzinfo) -> None:
    """A lead for a person: its fields, then its notes and its history in time order, every
    time in `zone` (the company's)."""
    sections = ("notes", "history")
    record({k: v for k, v in view.items() if k not in sections}, False)
    echo("\nnotes:")
    for note in view["notes"]:
        echo(f"  {local_time(note['created_at'], zone)}  {note['author']}: {visible(note['text'])}")
    echo("\nhistory:")
    for event in view["history"]:
        who = f"{event['channel']:<9} {event['actor']:<8} {event['kind']:<20}"
        echo(f"  {local_time(event['occurred_at'], zone)}  {who} {_cell(event['details'])}")


def local_time(moment: str, zone: tzinfo) -> str:
    """An ISO time as the company reads it: `2026-03-02 09:00` in TIMEZONE."""
    return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _merge_line(merge: Mapping[str, Any]) -> str:
    """`merge 3  in from contact 7  2026-03-02T09:00:00+00:00  {"identities": 1, ...}`."""
    other = "from" if merge["direction"] == "in" else "into"
    undone = f"  undone {merge['undone_at']}" if merge["undone_at"] else ""
    return (
        f"merge {merge['merge_id']}  {merge['direction']:<3} {other} contact "
        f"{merge['contact_id']}  {merge['merged_at']}  {_cell(merge['moved'], limit=None)}{undone}"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _cell(value: Any, limit: int | None = CELL_WIDTH) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        text = ", ".join(value)  # languages "ru, en", not ["ru", "en"]
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = visible(" ".join(text.split()))
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def visible(text: str) -> str:
    """`text` with control characters (ESC sequences, BEL, ...) shown escaped: what a customer
    wrote is kept as sent, but never acts on the terminal it is shown in."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
