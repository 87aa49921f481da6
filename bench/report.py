"""`touchpoint report` over a generated year of history, against reading that year's rows.

    python -m bench.report [--conversations N] [--postgres URL] [--runs R]

A year is generated into a fresh database (SQLite always; PostgreSQL when a URL is given or
TOUCHPOINT_BENCH_POSTGRES_URL is set): N conversations spread over 365 days, each with its
messages in and out, one in five with a lead worked through the pipeline (offered, accepted,
contacted, staged, won or lost), one in twenty with a hand-off (claimed, answered) and a
rating, one in ten with a ticket. Then, in R interleaved rounds:

- baseline: one `SELECT count(*)` of every touchpoint of the year — the least any report
  over the period must read;
- report: `reports.build` for the whole year, as `touchpoint report --since … --until …` runs it.

Printed: the rows generated, each figure as median (min–max) seconds, and report/baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from bench.rounds import Spread, add_runs_argument, interleave_async, ratios
from bot import reports
from storage.tables import contacts, conversations, reps, touchpoints
from storage.uow import Database

START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR = reports.Period(START, START + timedelta(days=365))
CHANNELS = ("telegram", "email", "console")
REPS = 8
CHUNK = 5000
T = TypeVar("T")


@dataclass
class Conversation:
    """One generated conversation and the touchpoints written for it."""

    number: int
    channel: str
    at: datetime
    points: list[dict[str, Any]] = field(default_factory=list)

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


def history(count: int, seed: int = 7) -> list[Conversation]:
    """A year of conversations and their touchpoints (the same for a seed)."""
    rng = random.Random(seed)
    year = []
    for number in range(1, count + 1):
        at = START + timedelta(seconds=rng.randrange(365 * 86400))
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
            _ticket(talk, rng, ticket=1000 + number)
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
    for step, stage in enumerate(("qualified", "proposal", rng.choice(("won", "lost")))):
        if rng.random() < 0.6:
            reason = "price" if stage == "lost" else None
            talk.point(
                "lead_status_changed", 30000 + step, "rep",
                lead_id=lead_id, rep_id=rep_id, to=stage, reason=reason,
            )  # fmt: skip


def _handoff(talk: Conversation, rng: random.Random, *, handoff_id: int, rep_id: int) -> None:
    talk.point("rep_claimed", 900, "rep", handoff_id=handoff_id, rep_id=rep_id, latency=90.0)
    talk.point(
        "rep_replied", 960, "rep", handoff_id=handoff_id, rep_id=rep_id, latency=150.0, first=True
    )
    talk.point("csat_rated", 5000, "customer", rep_id=rep_id, rating=rng.randint(1, 5))


def _ticket(talk: Conversation, rng: random.Random, *, ticket: int) -> None:
    talk.point("ticket_opened", 400, ticket=ticket, category="delivery")
    if rng.random() < 0.7:
        talk.point("ticket_status_changed", 90000, "operator", ticket=ticket, to="resolved")


async def generate(database: Database, count: int) -> int:
    year = history(count)
    points = [point for talk in year for point in talk.points]
    async with database.transaction() as uow:
        db = uow.connection
        names = [{"name": f"Rep {n}", "created_at": START} for n in range(1, REPS + 1)]
        await db.execute(reps.insert(), names)
        for chunk in _chunks(year):
            await db.execute(contacts.insert(), [_contact(talk) for talk in chunk])
            await db.execute(conversations.insert(), [_conversation(talk) for talk in chunk])
        for rows in _chunks(points):
            await db.execute(touchpoints.insert(), rows)
        await uow.commit()
    return len(points)


def _contact(talk: Conversation) -> dict[str, Any]:
    return {"id": talk.number, "display_name": f"C{talk.number}", "created_at": talk.at}


def _conversation(talk: Conversation) -> dict[str, Any]:
    return {
        "id": talk.number,
        "contact_id": talk.number,
        "channel": talk.channel,
        "thread_key": str(talk.number),
        "address": str(talk.number),
        "data": {},
        "created_at": talk.at,
        "updated_at": talk.at,
    }


def _chunks(rows: list[T]) -> list[list[T]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


async def bench_engine(url: str, count: int, runs: int) -> None:
    database = Database.from_url(url)
    try:
        await database.upgrade()
        started = time.perf_counter()
        rows = await generate(database, count)
        print(f"  generated {count:,} conversations, {rows:,} touchpoints "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip

        async def baseline(_: int) -> float:
            started = time.perf_counter()
            async with database.transaction() as uow:
                query = (
                    select(func.count())
                    .select_from(touchpoints)
                    .where(
                        touchpoints.c.occurred_at >= YEAR.since,
                        touchpoints.c.occurred_at < YEAR.until,
                    )
                )
                (await uow.connection.execute(query)).scalar_one()
            return time.perf_counter() - started

        async def report(_: int) -> float:
            started = time.perf_counter()
            async with database.transaction() as uow:
                await reports.build(uow, YEAR, now=YEAR.until, followup_after=timedelta(days=1))
            return time.perf_counter() - started

        scanned, reported = await interleave_async(runs, (baseline, report))
        print(f"  count(*) of the year   {Spread.of(scanned).format(',.3f')} s")
        print(f"  report of the year     {Spread.of(reported).format(',.3f')} s")
        print(f"  report / count(*)      {ratios(reported, scanned).format(',.1f')}×")
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    add_runs_argument(parser)
    args = parser.parse_args()
    print(f"a year of history, {os.cpu_count()} CPUs, {args.runs} interleaved rounds")
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite (WAL)")
        await bench_engine(
            f"sqlite+aiosqlite:///{Path(folder) / 'report.db'}", args.conversations, args.runs
        )
    if args.postgres:
        print("PostgreSQL")
        await bench_engine(args.postgres, args.conversations, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
