"""Telegram updates per second end to end, Touchpoint against the plainest python-telegram-bot bot.

    python -m bench.telegram [--updates N] [--chats M] [--paced-updates P] [--runs R]

Both bots run against the same fake Bot API (tests/fakes, an aiohttp server on 127.0.0.1 in this
process), in the same run, on the same number of queued updates: N messages "thanks" from M
chats, a text both bots answer with exactly one message. The clock starts when the bot starts
and stops when the fake has recorded N replies.

- baseline: a python-telegram-bot `Application` with one `MessageHandler` that echoes the text,
  polling as `run_polling` does. It acknowledges updates before handling them and stores
  nothing: the floor for any bot on this client library;
- Touchpoint: `touchpoint run`'s composition (`bot.bootstrap.open_app`: the Telegram channel, the
  dispatcher, the relay, the scheduler) on a SQLite file in a temporary folder: each update is
  committed before Telegram's offset moves, each reply goes through the outbox and is marked
  sent, one send at a time. Pacing is lifted (the fake has no limits), so this is the pipeline's
  own speed.

The ratio Touchpoint/baseline is the figure the README quotes.

Then Touchpoint once more with pacing on (1 message/s per chat, 30/s overall) on P updates from
P chats: inbound is committed at full speed while the replies wait their turn in the outbox. It
prints when every update was committed (Telegram's offset confirmed past the last one), when the
last reply went out, and the most sends the fake saw within any one second.

Baseline and Touchpoint run in turn, R rounds (3 by default), then the paced run R times; each
run has a fake and (for Touchpoint) a database of its own. Each figure is printed as median
(min–max) over the runs and the ratio is taken per round (bench/rounds.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, ratios
from bot.bootstrap import App, build_channels, open_app
from bot.settings import Settings
from storage.tables import messages
from storage.uow import UnitOfWork
from tests.fakes.telegram import FakeTelegram

TEXT = "thanks"  # one reply from either bot
FIRST_CHAT = 500_001
WAIT_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    updates: int
    seconds: float
    committed: float | None = None  # when every update was committed, if the bot commits

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds


@dataclass(frozen=True, slots=True)
class PacedFigures:
    updates: int
    committed: float
    replied: float
    busiest_second: int
    sent_when_committed: int


def queue_updates(fake: FakeTelegram, updates: int, chats: int) -> int:
    """Queue the updates, chats taking turns; returns the last update id."""
    last = 0
    for number in range(updates):
        chat_id = FIRST_CHAT + number % chats
        last = int(fake.user_message(chat_id, TEXT, first_name="Bench")["update_id"])
    return last


async def until(condition: Callable[[], bool]) -> float:
    """Wait for `condition`; returns the `perf_counter` reading when it was first seen true."""
    deadline = time.perf_counter() + WAIT_SECONDS
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not done within {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(0.005)
    return time.perf_counter()


def check_replies(fake: FakeTelegram, expected: int) -> None:
    """Each update got exactly one reply, or the figures compare different work."""
    if len(fake.sent) != expected:
        raise RuntimeError(f"the fake recorded {len(fake.sent)} replies, expected {expected}")


# --- the baseline: python-telegram-bot's own polling and dispatch ----------------------------


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


async def bench_echo(updates: int, chats: int) -> Figures:
    async with FakeTelegram() as fake:
        return await echo_on(fake, updates, chats)


async def echo_on(fake: FakeTelegram, updates: int, chats: int) -> Figures:
    queue_updates(fake, updates, chats)
    expected = len(fake.sent) + updates
    app = ApplicationBuilder().token(fake.token).base_url(fake.api_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    started = time.perf_counter()
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        done = await until(lambda: len(fake.sent) >= expected)
        await app.updater.stop()
        await app.stop()
    check_replies(fake, expected)
    return Figures("python-telegram-bot echo", updates, done - started)


# --- Touchpoint: the composition `touchpoint run` uses ---------------------------------------


def settings_for(fake: FakeTelegram, folder: Path, name: str, *, paced: bool) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{folder / name}",
        telegram_bot_token=fake.token,
        telegram_api_url=fake.api_url,
        telegram_poll_timeout=1,
        telegram_max_per_chat=1.0 if paced else 0.0,
        telegram_max_per_second=30.0 if paced else 0.0,
        # A chat writing dozens of messages within the run is the load, not a flood to hold
        # back (held, it would get no reply and the run would wait for one).
        flood_limit=0,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[App, float]]:
    """`touchpoint run` inside this process, with its database migrated; yields the app and the
    moment it started serving (the clock excludes migrations, a deployment step)."""
    async with open_app(settings, lambda database, _: build_channels(settings, database)) as app:
        started = time.perf_counter()
        serving = asyncio.create_task(app.serve(), name="touchpoint")
        try:
            yield app, started
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving


async def bench_touchpoint(updates: int, chats: int) -> Figures:
    with tempfile.TemporaryDirectory() as folder:
        async with FakeTelegram() as fake:
            return await touchpoint_on(fake, Path(folder), updates, chats)


async def touchpoint_on(fake: FakeTelegram, folder: Path, updates: int, chats: int) -> Figures:
    last_update = queue_updates(fake, updates, chats)
    expected = len(fake.sent) + updates
    async with running(settings_for(fake, folder, "throughput.db", paced=False)) as (_, started):
        committed = asyncio.create_task(until(lambda: fake.confirmed_offset > last_update))
        done = await until(lambda: len(fake.sent) >= expected)
        all_committed = await committed
    check_replies(fake, expected)
    return Figures("Touchpoint (SQLite)", updates, done - started, all_committed - started)


async def bench_paced(updates: int) -> PacedFigures:
    with tempfile.TemporaryDirectory() as folder:
        async with FakeTelegram() as fake:
            return await paced_on(fake, Path(folder), updates)


async def paced_on(fake: FakeTelegram, folder: Path, updates: int) -> PacedFigures:
    last_update = queue_updates(fake, updates, updates)
    before = len(fake.sent)
    settings = settings_for(fake, folder, "paced.db", paced=True)
    async with running(settings) as (app, started):
        committed = await until(lambda: fake.confirmed_offset > last_update)
        sent_by_then = len(fake.sent) - before
        replied = await until(lambda: len(fake.sent) >= before + updates)
        stored = await app.database.run(count_inbound)
    if stored != updates:
        raise RuntimeError(f"{stored} of {updates} updates stored")
    check_replies(fake, before + updates)
    sends = [message.at for message in fake.sent[before:]]
    return PacedFigures(
        updates=updates,
        committed=committed - started,
        replied=replied - started,
        busiest_second=most_in_any_second(sends),
        sent_when_committed=sent_by_then,
    )


async def count_inbound(uow: UnitOfWork) -> int:
    query = select(func.count()).where(messages.c.direction == "in")
    return int((await uow.connection.execute(query)).scalar_one())


def most_in_any_second(times: Sequence[float]) -> int:
    ordered = sorted(times)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- the report ------------------------------------------------------------------------------


def report_throughput(baseline: Sequence[Figures], pipeline: Sequence[Figures]) -> None:
    print("\n== pacing lifted")
    base_rates = [figures.per_second for figures in baseline]
    rows = [throughput_row(rounds, base_rates) for rounds in (baseline, pipeline)]
    for line in aligned("{} {} updates/s  {} s  ratio {}{}", rows):
        print(line)


def throughput_row(rounds: Sequence[Figures], baseline: Sequence[float]) -> list[str]:
    rates = [figures.per_second for figures in rounds]
    committed = [figures.committed for figures in rounds if figures.committed is not None]
    return [
        rounds[0].name,
        Spread.of(rates).format(".1f"),
        Spread.of(figures.seconds for figures in rounds).format(".2f"),
        ratios(rates, baseline).format(".2f"),
        f"  (all updates committed after {Spread.of(committed).format('.2f')} s)"
        if committed
        else "",
    ]


def report_paced(runs: Sequence[PacedFigures]) -> None:
    def spread(figure: Callable[[PacedFigures], float], spec: str) -> str:
        return Spread.of(figure(run) for run in runs).format(spec)

    print(f"\n== pacing on (1/s per chat, 30/s overall): {runs[0].updates} updates, one chat each")
    rows = [
        ["all updates committed (offset confirmed)", spread(lambda r: r.committed, ".2f"), " s"],
        [
            "  replies waiting in the outbox by then",
            spread(lambda r: r.updates - r.sent_when_committed, ".0f"),
            "",
        ],
        ["all replies sent", spread(lambda r: r.replied, ".2f"), " s"],
        ["most sends within any one second", spread(lambda r: r.busiest_second, ".0f"), ""],
    ]
    for line in aligned("{}   {}{}", rows):
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--paced-updates", type=int, default=300)
    add_runs_argument(parser)
    args = parser.parse_args()
    print(
        f"{args.updates} updates from {args.chats} chats, text {TEXT!r}, one reply each; "
        f"{os.cpu_count()} CPUs"
    )
    if args.runs > 1:
        print(f"{args.runs} interleaved rounds; figures are median (min–max), ratios per round")
    echo_runs, touchpoint_runs = await interleave_async(
        args.runs,
        [
            lambda _: bench_echo(args.updates, args.chats),
            lambda _: bench_touchpoint(args.updates, args.chats),
        ],
    )
    (paced_runs,) = await interleave_async(args.runs, [lambda _: bench_paced(args.paced_updates)])
    report_throughput(echo_runs, touchpoint_runs)
    report_paced(paced_runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
