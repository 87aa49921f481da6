"""Replies per second a relay sends from a backlog, against the floor of any relay that repeats
at most the reply in flight.

    python -m bench.relay [--replies N] [--conversations C] [--postgres URL] [--runs R]

For each engine (SQLite always; PostgreSQL when a URL is given or TOUCHPOINT_BENCH_POSTGRES_URL
is set), round after round, the dispatcher first queues a backlog of replies (not timed), and
then one of these sends it all to an in-memory channel:

- floor: one reply at a time, each marked sent and the next one leased in one transaction (an
  `UPDATE` of the sent row, an `UPDATE … RETURNING` of the oldest pending one): the least a relay
  must do to lose no reply and repeat only the one in flight at a crash;
- relay: Touchpoint's relay with its defaults (one reply at a time), which also keeps each
  conversation's replies in order, fences its leases, and stores each reply sent as a message
  and a touchpoint of the customer's timeline.

Each figure is printed as median (min–max) over the rounds, each ratio taken per round
(bench/rounds.py), beside the SQL statements each reply cost (every statement the driver
executed, divided by the replies).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select, update

from bench.dispatcher import (
    MemoryChannel,
    ReplyCount,
    Statements,
    messages,
    on_each_engine,
    timed,
)
from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, ratios
from bot import words
from bot.bootstrap import build_services
from bot.dispatch import Dispatcher
from bot.model import Address, OutboundMessage, utc_now
from bot.relay import Relay
from bot.settings import Settings
from storage.tables import outbox
from storage.uow import Database, UnitOfWork

LEASE = timedelta(minutes=5)
# The floor's two statements: the sent row settled, the oldest pending one leased.
MARK_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("sent_id"))
    .values(status="sent", sent_at=bindparam("now"), locked_until=None)
)
OLDEST_PENDING = (
    select(outbox.c.id)
    .where(outbox.c.status == "pending")
    .order_by(outbox.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
LEASE_NEXT = (
    update(outbox)
    .where(outbox.c.id == OLDEST_PENDING)
    .values(status="sending", locked_until=bindparam("until"), attempts=outbox.c.attempts + 1)
    .returning(outbox.c.id, outbox.c.channel, outbox.c.address, outbox.c.text)
)


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    replies: int
    seconds: float
    statements: int

    @property
    def per_second(self) -> float:
        return self.replies / self.seconds

    @property
    def statements_per_reply(self) -> float:
        return self.statements / self.replies


async def floor_relay(database: Database, channel: MemoryChannel) -> int:
    """Send every pending row: settle the last one and lease the next in one transaction."""
    sent = 0
    row = await database.run(partial(_settle_then_lease, sent_id=None))
    while row is not None:
        message = OutboundMessage(address=Address(row.channel, row.address), text=row.text)
        await channel.send(message)
        sent += 1
        row = await database.run(partial(_settle_then_lease, sent_id=row.id))
    return sent


async def _settle_then_lease(uow: UnitOfWork, sent_id: int | None) -> Any:
    now = utc_now()
    if sent_id is not None:
        await uow.connection.execute(MARK_SENT, {"sent_id": sent_id, "now": now})
    row = (await uow.connection.execute(LEASE_NEXT, {"until": now + LEASE})).first()
    await uow.commit()
    return row


async def touchpoint_relay(database: Database, channel: MemoryChannel) -> int:
    return await Relay(database, {"console": channel}).deliver_due(limit=10**9)


async def drained(
    name: str,
    database: Database,
    backlog: Callable[[], Awaitable[int]],
    relay: Callable[[Database, MemoryChannel], Awaitable[int]],
) -> Figures:
    queued = await backlog()
    channel = MemoryChannel()
    statements = Statements.count
    started = time.perf_counter()
    sent = await relay(database, channel)
    seconds = time.perf_counter() - started
    if sent != queued or channel.sent != queued:
        raise RuntimeError(f"{name}: {queued} replies queued, {sent} sent")
    return Figures(name, sent, seconds, Statements.count - statements)


async def bench_engine(
    label: str, url: str, replies: int, conversations: int, runs: int
) -> list[list[Figures]]:
    """Per contender (floor, relay), its figures round by round."""
    database = Database.from_url(url)
    await database.upgrade()
    services = build_services(Settings(_env_file=None, flood_limit=0))
    words.warm_up()
    dispatcher = Dispatcher(database, services)
    run = f"{label}-{time.time_ns()}"

    def backlog_of(name: str) -> Callable[[], Awaitable[int]]:
        async def queue() -> int:
            counted = ReplyCount(dispatcher)
            await timed(
                "backlog", messages(replies, conversations, f"{run}-{name}"), counted.accept
            )
            return counted.queued

        return queue

    async def floor(round_number: int) -> Figures:
        return await drained("floor", database, backlog_of(f"f{round_number}"), floor_relay)

    async def ours(round_number: int) -> Figures:
        return await drained("relay", database, backlog_of(f"r{round_number}"), touchpoint_relay)

    try:
        await drained("warm-up", database, backlog_of("w"), touchpoint_relay)
        return await interleave_async(runs, [floor, ours])
    finally:
        await database.dispose()


def report(label: str, contenders: list[list[Figures]]) -> None:
    floor = [figures.per_second for figures in contenders[0]]
    rows = [
        [
            rounds[0].name,
            Spread.of(figures.per_second for figures in rounds).format(".0f"),
            Spread.of(figures.statements_per_reply for figures in rounds).format(".1f"),
            ratios([figures.per_second for figures in rounds], floor).format(".2f"),
        ]
        for rounds in contenders
    ]
    print(f"\n== {label}")
    for line in aligned("{} {} replies/s   {} statements a reply   ratio {}", rows):
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=2000, help="messages whose replies queue")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    add_runs_argument(parser)
    args = parser.parse_args()
    print(f"a backlog of the replies to {args.replies} messages, {os.cpu_count()} CPUs")
    if args.runs > 1:
        print(f"{args.runs} interleaved rounds; figures are median (min–max), ratios per round")
    shape = (args.replies, args.conversations, args.runs)

    async def measured(label: str, url: str) -> None:
        report(label, await bench_engine(label.split()[0].lower(), url, *shape))

    await on_each_engine(args.postgres, measured)


if __name__ == "__main__":
    asyncio.run(main())
