"""A generated history of the company (the same for a seed), written straight into the tables
in batches (SQLAlchemy core executemany, not through the bot): for benchmarks of what reads it,
`touchpoint report` and the console.

N conversations, one per contact, spread over the 365 days after `start`, each with its
messages in and out (touchpoints and, with `records`, the messages with their text), one in
five with a lead worked through the pipeline (offered, accepted, contacted, staged, won or
lost), one in twenty with a hand-off (claimed, answered) and a rating, one in ten with a
ticket. With `records`, the leads, tickets and hand-offs are written as rows too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import text

from bot.kinds import ACTIVITY
from storage.repos.activity import activity_rows, slot_of
from storage.repos.figures import COUNTED, figure_row, linked
from storage.tables import (
    contacts,
    conversation_activity,
    conversations,
    handoffs,
    leads,
    messages,
    reps,
    service_requests,
    touchpoint_figures,
    touchpoints,
)
from storage.uow import Database

START = datetime(2025, 1, 1, tzinfo=UTC)
CHANNELS = ("telegram", "email", "console")
REPS = 8
CHUNK = 5000
WORDS = ("chairs", "delivery", "price", "order", "desk", "invoice", "hello", "thanks", "when")
T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class Conversation:
    """One generated conversation, the touchpoints written for it and its records."""

    number: int
    channel: str
    at: datetime
    points: list[Row] = field(default_factory=list)
    lead: Row | None = None
    ticket: Row | None = None
    handoff: Row | None = None

    def point(self, kind: str, after: float, actor: str = "bot", **details: Any) -> None:
        self.points.append(
            {
                "contact_id": self.number,
                "conversation_id": self.number,
                "channel": self.channel,
                "kind": kind,
                "actor": actor,
                "occurred_at": self.at + timedelta(seconds=after),
                "details": details,
            }
        )

    def moment(self, after: float) -> datetime:
        return self.at + timedelta(seconds=after)


def history(count: int, seed: int = 7, start: datetime = START) -> list[Conversation]:
    """A year of conversations from `start` and their touchpoints (the same for a seed)."""
    rng = random.Random(seed)
    year = []
    for number in range(1, count + 1):
        at = start + timedelta(seconds=rng.randrange(365 * 86400))
        talk = Conversation(number, rng.choice(CHANNELS), at)
        for turn in range(rng.randint(2, 8)):
            talk.point("message_in", turn * 60, "customer", text="…")
            talk.point("message_out", turn * 60 + 1, text="…")
        rep_id = rng.randint(1, REPS)
        if number % 5 == 0:
            _lead(talk, rng, lead_id=number // 5, rep_id=rep_id)
        if number % 20 == 0:
            _handoff(talk, rng, handoff_id=number // 20, rep_id=rep_id)
        if number % 10 == 0:
            _ticket(talk, rng, ticket=number // 10)
        year.append(talk)
    return year


def _lead(talk: Conversation, rng: random.Random, *, lead_id: int, rep_id: int) -> None:
    source = rng.choice(("-", "spring", "expo", "ads"))
    talk.point("lead_captured", 500, lead_id=lead_id, score=rng.randint(20, 100), source=source)
    talk.point("lead_offered", 501, "system", lead_id=lead_id, rep_id=rep_id, latency=1.0)
    talk.point("lead_accepted", 700, "rep", lead_id=lead_id, rep_id=rep_id, latency=200.0)
    contact = rng.uniform(300, 20000)
    talk.point(
        "lead_contacted", 500 + contact, "rep",
        lead_id=lead_id, rep_id=rep_id, latency=contact, via="message",
    )  # fmt: skip
    status = "contacted"
    for step, stage in enumerate(("qualified", "proposal", rng.choice(("won", "lost")))):
        if rng.random() < 0.6:
            reason = "price" if stage == "lost" else None
            talk.point(
                "lead_status_changed", 30000 + step, "rep",
                lead_id=lead_id, rep_id=rep_id, to=stage, reason=reason,
            )  # fmt: skip
            status = stage
    talk.lead = _lead_row(talk, lead_id, rep_id, source, status, contact)


def _lead_row(
    talk: Conversation, lead_id: int, rep_id: int, source: str, status: str, contact: float
) -> Row:
    closed = talk.moment(30002) if status in ("won", "lost") else None
    return {
        "id": lead_id, "contact_id": talk.number, "conversation_id": talk.number,
        "status": status, "need": f"{lead_id % 40 + 2} office chairs", "name": f"C{talk.number}",
        "source": None if source == "-" else source, "score": 20 + lead_id % 80,
        "created_at": talk.moment(500), "owner_rep_id": rep_id, "offered_to": [rep_id],
        "offered_at": talk.moment(501), "accepted_at": talk.moment(700),
        "contacted_at": talk.moment(500 + contact), "closed_at": closed,
        "lost_reason": "price" if status == "lost" else None, "updated_at": talk.moment(30002),
    }  # fmt: skip


def _handoff(talk: Conversation, rng: random.Random, *, handoff_id: int, rep_id: int) -> None:
    talk.point("rep_claimed", 900, "rep", handoff_id=handoff_id, rep_id=rep_id, latency=90.0)
    talk.point(
        "rep_replied", 960, "rep", handoff_id=handoff_id, rep_id=rep_id, latency=150.0, first=True
    )
    talk.point("csat_rated", 5000, "customer", rep_id=rep_id, rating=rng.randint(1, 5))
    talk.handoff = {
        "id": handoff_id, "conversation_id": talk.number, "contact_id": talk.number,
        "rep_id": rep_id, "reason": "asked", "status": "closed", "requested_at": talk.moment(810),
        "offered_at": talk.moment(811), "offered_to": [rep_id], "claimed_at": talk.moment(900),
        "first_answer_at": talk.moment(960), "closed_at": talk.moment(4000),
    }  # fmt: skip


def _ticket(talk: Conversation, rng: random.Random, *, ticket: int) -> None:
    talk.point("ticket_opened", 400, ticket=1000 + ticket, category="delivery")
    resolved = rng.random() < 0.7
    if resolved:
        talk.point("ticket_status_changed", 90000, "operator", ticket=1000 + ticket, to="resolved")
    talk.ticket = {
        "id": ticket, "contact_id": talk.number, "conversation_id": talk.number,
        "status": "resolved" if resolved else "open", "category": "delivery",
        "summary": f"Order {ticket} arrived late", "created_at": talk.moment(400),
        "updated_at": talk.moment(90000 if resolved else 400),
    }  # fmt: skip


async def generate(database: Database, year: list[Conversation], *, records: bool = False) -> int:
    """Write the history; the number of touchpoints written."""
    points = [point for talk in year for point in talk.points]
    async with database.transaction() as uow:
        db = uow.connection
        start = min((talk.at for talk in year), default=START)
        names = [{"name": f"Rep {n}", "created_at": start} for n in range(1, REPS + 1)]
        await db.execute(reps.insert(), names)
        for chunk in _chunks(year):
            await db.execute(contacts.insert(), [_contact(talk) for talk in chunk])
            await db.execute(conversations.insert(), [_conversation(talk) for talk in chunk])
        for rows in _chunks(points):
            await db.execute(touchpoints.insert(), rows)
        # The rollups in the order the recorder writes them: as things happen.
        counted = sorted((p for p in points if p["kind"] in COUNTED), key=_moment)
        for batch in _chunks(linked([figure_row(point) for point in counted])):
            await db.execute(touchpoint_figures.insert(), batch)
        for active in _chunks(sorted(_activity(year), key=lambda row: row["slot"])):
            await db.execute(conversation_activity.insert(), active)
        if records:
            for table, written in _records(year):
                for batch in _chunks(written):
                    await db.execute(table.insert(), batch)
        await uow.commit()
    return len(points)


def _moment(point: Row) -> datetime:
    moment: datetime = point["occurred_at"]
    return moment


def _activity(year: list[Conversation]) -> Iterator[Row]:
    """The report's rollup of active quarter-hours, as the turns would have written it."""
    moments = (
        (point["conversation_id"], point["channel"], point["occurred_at"])
        for talk in year
        for point in sorted(talk.points, key=lambda point: point["occurred_at"])
        if point["kind"] in ACTIVITY
    )
    return activity_rows(moments)


def _records(year: list[Conversation]) -> Iterator[tuple[Any, list[Row]]]:
    yield leads, _present(year, lambda talk: talk.lead)
    yield service_requests, _present(year, lambda talk: talk.ticket)
    yield handoffs, _present(year, lambda talk: talk.handoff)
    yield messages, [row for talk in year for row in _messages(talk)]


def _present(year: list[Conversation], record: Callable[[Conversation], Row | None]) -> list[Row]:
    return [row for talk in year if (row := record(talk)) is not None]


def _messages(talk: Conversation) -> Iterator[Row]:
    for number, point in enumerate(talk.points):
        if point["kind"] in ("message_in", "message_out"):
            inbound = point["kind"] == "message_in"
            yield {
                "channel": talk.channel, "external_id": f"{talk.number}:{number}",
                "conversation_id": talk.number, "direction": "in" if inbound else "out",
                "text": _text(talk.number + number, inbound), "created_at": point["occurred_at"],
            }  # fmt: skip


def _text(seed: int, inbound: bool) -> str:
    said = " ".join(WORDS[(seed * k) % len(WORDS)] for k in range(1, 9))
    return said if inbound else f"Thank you! About {said.split()[0]}: we will answer soon."


def _contact(talk: Conversation) -> Row:
    return {"id": talk.number, "display_name": f"C{talk.number}", "created_at": talk.at}


def _conversation(talk: Conversation) -> Row:
    return {
        "id": talk.number,
        "contact_id": talk.number,
        "channel": talk.channel,
        "thread_key": str(talk.number),
        "address": str(talk.number),
        "data": {},
        "created_at": talk.at,
        "updated_at": talk.at,
        "active_slot": slot_of(max(p["occurred_at"] for p in talk.points if p["kind"] in ACTIVITY)),
    }


def _chunks(rows: Sequence[T]) -> list[Sequence[T]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


async def after_bulk_load(database: Database) -> None:
    """The id sequences (PostgreSQL) past the ids written, and fresh planner statistics (and
    visibility maps, on PostgreSQL)."""
    async with database.transaction() as uow:
        db = uow.connection
        if not database.is_sqlite:
            found = await db.execute(text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = 'id' AND table_schema = 'public'"
            ))  # fmt: skip
            for (table,) in list(found):
                await db.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                ))  # fmt: skip
        if database.is_sqlite:
            await db.execute(text("ANALYZE"))
        await uow.commit()
    if not database.is_sqlite:
        await _vacuumed(database)


async def _vacuumed(database: Database) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would have done long before a year of history
    is read; measured straight after a bulk load, it would vacuum a million rows meanwhile."""
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
