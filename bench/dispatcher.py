"""Turns per second through the dispatcher, against the floor of any persistent bot.

    python -m bench.dispatcher [--turns N] [--postgres URL] [--runs R]

For each engine (SQLite always; PostgreSQL when a URL is given or
TOUCHPOINT_BENCH_POSTGRES_URL is set) it measures, in the same run:

- baseline: one transaction per inbound message that only inserts the message (idempotently,
  as the dispatcher does) and commits — the least any bot that does not lose messages must do;
- dispatcher: `accept()` for the same number of messages — idempotency, contact/conversation
  lookup, routing, handler, outbox rows, touchpoints, state — with the reply left in the outbox;
- dispatcher + relay: the same, with every reply then delivered to an in-memory channel.

Customers talk in parallel (several conversations at once), each conversation in order. The
ratio dispatcher/baseline is the figure the README quotes. Beside it, the SQL statements each
turn ran (every statement the driver executed, savepoints included, divided by the turns).

The three run in turn, R rounds (3 by default) on the same database after one warm-up, each
round on messages of its own; each figure is printed as median (min–max) over the rounds and
each ratio is taken per round (bench/rounds.py).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event

from bench.floor import bare_insert
from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, ratios
from bot import words
from bot.bootstrap import build_services
from bot.dispatch import Dispatcher
from bot.model import (
    Address,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Sender,
    SendReceipt,
)
from bot.relay import Relay
from bot.settings import Settings
from bot.turn import Services
from storage.uow import Database

SCRIPT = (
    "hello",
    "what can you do?",
    "thanks!",
    "привет",
    "спасибо",
    "good morning",
)


class Statements:
    """Every statement any engine of this process sends to its driver, counted."""

    count = 0

    @classmethod
    def executed(cls, *_: object) -> None:
        cls.count += 1


event.listen(Engine, "before_cursor_execute", Statements.executed)


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    turns: int
    seconds: float
    latencies: list[float]
    statements: int = 0

    @property
    def statements_per_turn(self) -> float:
        return self.statements / self.turns

    @property
    def per_second(self) -> float:
        return self.turns / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[18] * 1000


class MemoryChannel:
    name = "console"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.sent = 0
        self._changed = asyncio.Condition()

    async def run(self, accept: object) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendReceipt:
        async with self._changed:
            self.sent += 1
            self._changed.notify_all()
        return SendReceipt(external_id=str(self.sent))

    async def close(self) -> None:
        return None

    async def wait_for(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.sent >= count)


class ReplyCount:
    """Messages accepted through a dispatcher, counting the replies their turns queued."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self.queued = 0

    async def accept(self, message: InboundMessage) -> None:
        # Read before adding: `queued += await ...` would read `queued` before the await, and
        # the streams' concurrent turns would overwrite each other's counts.
        replies = (await self._dispatcher.accept(message)).replies
        self.queued += replies


async def on_each_engine(
    postgres: str, measure_and_report: Callable[[str, str], Awaitable[None]]
) -> None:
    """SQLite (WAL) on a file of a temporary folder, then PostgreSQL when a URL is given."""
    with tempfile.TemporaryDirectory() as folder:
        await measure_and_report("SQLite (WAL)", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
    if postgres:
        await measure_and_report("PostgreSQL", postgres)


def messages(turns: int, conversations: int, run: str) -> list[list[InboundMessage]]:
    """`turns` messages spread over `conversations` customers, each a list in order."""
    per_conversation: list[list[InboundMessage]] = [[] for _ in range(conversations)]
    lines = itertools.cycle(SCRIPT)
    for number in range(turns):
        customer = f"{run}-c{number % conversations}"
        message = InboundMessage(
            external_id=f"{run}-{number}",
            address=Address("console", customer),
            sender=Sender(external_id=customer, display_name="Bench"),
            text=next(lines),
        )
        per_conversation[number % conversations].append(message)
    return per_conversation


async def timed(
    name: str,
    streams: list[list[InboundMessage]],
    handle: Callable[[InboundMessage], Awaitable[object]],
) -> Figures:
    latencies: list[float] = []

    async def one_stream(stream: list[InboundMessage]) -> None:
        for message in stream:
            started = time.perf_counter()
            await handle(message)
            latencies.append(time.perf_counter() - started)

    started, statements = time.perf_counter(), Statements.count
    await asyncio.gather(*(one_stream(stream) for stream in streams))
    elapsed, turns = time.perf_counter() - started, sum(map(len, streams))
    return Figures(name, turns, elapsed, latencies, Statements.count - statements)


async def bench_engine(
    label: str, url: str, turns: int, conversations: int, runs: int
) -> list[list[Figures]]:
    """Per contender (baseline, dispatcher, dispatcher + relay), its figures round by round."""
    database = Database.from_url(url)
    await database.upgrade()
    # One customer writes a hundred messages in a second here: not a flood to hold back.
    services = build_services(Settings(_env_file=None, flood_limit=0))
    words.warm_up()  # as `touchpoint run` does before its first turn
    dispatcher = Dispatcher(database, services)
    run = f"{label}-{time.time_ns()}"

    async def baseline(round_number: int) -> Figures:
        streams = messages(turns, conversations, f"{run}-b{round_number}")
        return await timed("baseline insert", streams, lambda m: bare_insert(database, m))

    async def dispatched(round_number: int) -> Figures:
        streams = messages(turns, conversations, f"{run}-d{round_number}")
        figures = await timed("dispatcher", streams, dispatcher.accept)
        # Its replies are delivered outside the clock, so the relay's round starts with none.
        await Relay(database, {"console": MemoryChannel()}).deliver_due(limit=10**9)
        return figures

    async def relayed(round_number: int) -> Figures:
        streams = messages(turns, conversations, f"{run}-r{round_number}")
        return await with_relay(database, services, streams)

    try:
        await timed("warm-up", messages(200, conversations, f"{run}-w"), dispatcher.accept)
        return await interleave_async(runs, [baseline, dispatched, relayed])
    finally:
        await database.dispose()


async def with_relay(
    database: Database, services: Services, streams: list[list[InboundMessage]]
) -> Figures:
    """The pipeline as `touchpoint run` wires it: the relay loop runs beside the dispatcher,
    woken by each commit; the clock stops when the last reply has been delivered."""
    channel = MemoryChannel()
    relay = Relay(database, {"console": channel})
    dispatcher = Dispatcher(database, services, on_commit=relay.wake)
    relaying = asyncio.create_task(relay.run())
    replies = ReplyCount(dispatcher)
    counted_before = Statements.count
    try:
        figures = await timed("dispatcher + relay", streams, replies.accept)
        started = time.perf_counter() - figures.seconds
        await channel.wait_for(replies.queued)
        statements = Statements.count - counted_before
        seconds = time.perf_counter() - started
        return Figures(figures.name, figures.turns, seconds, figures.latencies, statements)
    finally:
        relay.stop()
        await relaying


def report(label: str, contenders: list[list[Figures]]) -> None:
    baseline = [figures.per_second for figures in contenders[0]]
    print(f"\n== {label}")
    rows = [row(rounds, baseline) for rounds in contenders]
    for line in aligned("{} {} turns/s   p50 {} ms   p95 {} ms   ratio {}", rows):
        print(line)
    statements = [
        f"{rounds[0].name} {Spread.of(f.statements_per_turn for f in rounds).format('.1f')}"
        for rounds in contenders
    ]
    print("statements per turn: " + ", ".join(statements))


def row(rounds: list[Figures], baseline: list[float]) -> list[str]:
    rates = [figures.per_second for figures in rounds]
    return [
        rounds[0].name,
        Spread.of(rates).format(".0f"),
        Spread.of(figures.p50_ms for figures in rounds).format(".2f"),
        Spread.of(figures.p95_ms for figures in rounds).format(".2f"),
        ratios(rates, baseline).format(".2f"),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    add_runs_argument(parser)
    args = parser.parse_args()
    print(
        f"{args.turns} turns, {args.conversations} conversations in parallel, {os.cpu_count()} CPUs"
    )
    if args.runs > 1:
        print(f"{args.runs} interleaved rounds; figures are median (min–max), ratios per round")
    shape = (args.turns, args.conversations, args.runs)

    async def measured(label: str, url: str) -> None:
        report(label, await bench_engine(label.split()[0].lower(), url, *shape))

    await on_each_engine(args.postgres, measured)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
