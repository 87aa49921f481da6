"""`touchpoint leads|contacts|tickets export`: CSV files for spreadsheets and other systems.

UTF-8 with a byte order mark, so spreadsheet programs read Russian text right; times in the
company's time zone (ISO 8601 with the offset). A cell a spreadsheet would take for a formula
(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe:
what a customer typed never runs as a formula on a manager's machine.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import moment_option, reading, settings_or_exit
from bot.cli.contacts import contacts_app
from bot.cli.leads import leads_app
from bot.cli.records import tickets_app
from bot.records import ticket_number
from storage.uow import UnitOfWork

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
]
Since = Annotated[
    str | None, typer.Option(help="Only rows created on or after this date (YYYY-MM-DD).")
]
Until = Annotated[str | None, typer.Option(help="Only rows created before this date.")]

LEAD_COLUMNS = (
    "id", "created_at", "status", "owner", "name", "company", "email", "phone", "need",
    "budget", "timeline", "source", "channel", "score", "accepted_at", "contacted_at",
    "speed_to_lead_seconds", "next_step", "next_step_due_at", "lost_reason", "closed_at",
)  # fmt: skip
CONTACT_COLUMNS = ("id", "created_at", "display_name", "company", "language", "verified", "claimed")
TICKET_COLUMNS = (
    "number", "created_at", "updated_at", "status", "category", "summary", "contact_id",
    "contact_name", "channel",
)  # fmt: skip


def safe_cell(value: object, zone: ZoneInfo) -> str:
    """A value as a CSV cell: times in `zone`, lists joined, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, list | tuple):
        value = "; ".join(str(item) for item in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvOut:
    """A CSV file being written: the byte order mark and the header first, then row by row."""

    def __init__(self, stream: IO[str], columns: Sequence[str], zone: ZoneInfo) -> None:
        stream.write("\ufeff")
        self._writer = csv.writer(stream)
        self._writer.writerow(columns)
        self._columns, self._zone = columns, zone
        self.count = 0

    def row(self, values: dict[str, Any]) -> None:
        self._writer.writerow([safe_cell(values.get(c), self._zone) for c in self._columns])
        self.count += 1


@contextmanager
def _opened(path: Path | None) -> Iterator[IO[str]]:
    if path is None:  # UTF-8 whatever the terminal's locale; the CSV module ends lines itself
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    with path.open("w", encoding="utf-8", newline="") as stream:
        yield stream


def _export(
    columns: Sequence[str],
    rows: Callable[[UnitOfWork, datetime | None, datetime | None], AsyncIterator[dict[str, Any]]],
    output: Path | None,
    since: str | None,
    until: str | None,
) -> None:
    zone = ZoneInfo(settings_or_exit().zone_name)
    start = moment_option(since, zone, "--since") if since else None
    end = moment_option(until, zone, "--until") if until else None

    async def work(uow: UnitOfWork) -> int:
        with _opened(output) as stream:
            out = CsvOut(stream, columns, zone)
            async for row in rows(uow, start, end):
                out.row(row)
            return out.count

    count = reading(work)
    if output is not None:
        typer.echo(f"{count} rows written to {output}", err=True)


async def _lead_rows(
    uow: UnitOfWork, since: datetime | None, until: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    async for row in uow.exports.leads(since=since, until=until):
        contacted, created = row.get("contacted_at"), row["created_at"]
        if contacted is not None:
            row["speed_to_lead_seconds"] = round((contacted - created).total_seconds())
        yield row


async def _contact_rows(
    uow: UnitOfWork, since: datetime | None, until: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    async for row in uow.exports.contacts(since=since, until=until):
        yield row


async def _ticket_rows(
    uow: UnitOfWork, since: datetime | None, until: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    async for row in uow.exports.tickets(since=since, until=until):
        row["number"] = ticket_number(row["id"])
        yield row


def register() -> None:
    """The export commands join the `leads`, `contacts` and `tickets` groups."""
    leads_app.command("export")(leads_export)
    contacts_app.command("export")(contacts_export)
    tickets_app.command("export")(tickets_export)


def leads_export(output: Output = None, since: Since = None, until: Until = None) -> None:
    """Every lead as CSV: owner, stage, contact details, first contact and speed-to-lead."""
    _export(LEAD_COLUMNS, _lead_rows, output, since, until)


def contacts_export(output: Output = None, since: Since = None, until: Until = None) -> None:
    """Every contact as CSV, with the addresses proven by a channel and those only typed."""
    _export(CONTACT_COLUMNS, _contact_rows, output, since, until)


def tickets_export(output: Output = None, since: Since = None, until: Until = None) -> None:
    """Every ticket as CSV, with its customer and channel."""
    _export(TICKET_COLUMNS, _ticket_rows, output, since, until)
