"""An open-loop load on `touchpoint run` in Telegram webhook mode: latencies and peak memory.

    python -m bench.load [--rate 100] [--seconds 60] [--chats 1000] [--contacts N]
                         [--postgres URL] [--runs R]
    make bench-load   (100,000 contacts, on SQLite and a private PostgreSQL cluster)

A real `touchpoint run` process (tests/bot_process.py) serves a webhook on a free port of
127.0.0.1 against the fake Bot API (tests/fakes, in this process). Pacing is off
(TELEGRAM_MAX_PER_CHAT=0, TELEGRAM_MAX_PER_SECOND=0), as the other benchmarks run it: the fake
has no limits, so the figures are the pipeline's own.

Open loop: update i ("thanks" from one of the chats, in turn; one reply each) is POSTed at
start + i/rate, whatever the earlier ones are doing — no request waits for another's answer
(up to 100 connections at once, Telegram's own most). Every latency counts from the scheduled
time, so a late send, or a request that waits for a connection, is charged its lateness:
no coordinated omission.

Per update, two latencies:

- to reply queued: when the webhook's 200 reached us. The bot answers 200 only after the
  turn's transaction committed, and that transaction holds the reply's outbox row, so the 200
  is the first moment the reply is durably queued that this process can see on its own clock.
  (The outbox row's `created_at` is the turn's clock reading at its start, before the commit:
  it would understate.) The POST's way back adds well under a millisecond on 127.0.0.1;
- to reply sent: when the fake received the sendMessage of that chat's reply (a chat's
  replies are matched to its updates in order; its updates are seconds apart).

Each update must be answered with 200 and exactly one reply, or the run fails.

With `--contacts N` a second contender runs the same load on a database first filled with the
history of N contacts (bench/history.py, as bench/console.py prepares it; on SQLite a copy of
its cached file per run). Plain and filled runs take turns, R rounds (bench/rounds.py); each
run has a database of its own. Printed per contender: p50/p99/max of both latencies, the
achieved send rate, the latest send, and the run process's peak RSS (VmHWM), each median
(min–max) over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.console import free_port, peak_rss_mb, prepared_sqlite
from bench.databases import migrated, postgres_copy, postgres_history, sqlite_copy
from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, percentile
from tests.bot_process import BotProcess, bot_environment
from tests.fakes.telegram import SECRET_HEADER, FakeTelegram, SentMessage

TEXT = "thanks"  # one reply each
FIRST_CHAT = 900_000_001  # far from the ids of the generated history's contacts
SECRET = "load-bench-secret"
CONNECTIONS = 100  # Telegram's highest max_connections for a webhook
START_AFTER = 0.5  # seconds between preparing the schedule and its first send
DRAIN_SECONDS = 120.0  # how long the replies may trail the last send
LEGEND = """\
  latencies in ms from each update's due time: to the webhook's 200 (reply queued) and to the
  fake's receipt of its reply (reply sent); sent/s: the rate the updates left at; latest: the
  most a send left after its due time; RSS: the run process's VmHWM once its webhook was up,
  and after the load"""


@dataclass(frozen=True, slots=True)
class Load:
    rate: int
    seconds: int
    chats: int

    @property
    def updates(self) -> int:
        return self.rate * self.seconds


@dataclass(frozen=True, slots=True)
class Posted:
    """One update's POST: its chat, when it was due, how late it left, when its 200 came."""

    chat_id: int
    due: float
    late: float
    answered: float
    status: int


@dataclass(frozen=True, slots=True)
class Figures:
    queued: list[float]  # seconds from due to the webhook's 200, per update
    sent: list[float]  # seconds from due to the reply's sendMessage, per update
    achieved_rate: float
    latest_send: float
    ready_rss_mb: float  # the peak once the webhook was up, before any load
    peak_rss_mb: float


# --- pure helpers ------------------------------------------------------------------------


def schedule(rate: int, seconds: int) -> list[float]:
    """Offsets from the start at which each update is due: evenly spaced, `rate` a second."""
    return [number / rate for number in range(rate * seconds)]


def chat_of(number: int, chats: int) -> int:
    return FIRST_CHAT + number % chats


def reply_delays(posted: Sequence[Posted], sent: Sequence[SentMessage]) -> list[float]:
    """From each update's due time to its reply, in the order of `posted`; a chat's replies are
    taken in order for its updates in order. Fails unless each update got exactly one."""
    replies: dict[int, list[float]] = defaultdict(list)
    for message in sent:
        replies[message.chat_id].append(message.at)
    _check_answered_once(Counter(post.chat_id for post in posted), replies)
    unclaimed = {chat: iter(times) for chat, times in replies.items()}
    return [next(unclaimed[post.chat_id]) - post.due for post in posted]


def _check_answered_once(updates: Counter[int], replies: dict[int, list[float]]) -> None:
    wrong = {chat: (len(replies.get(chat, [])), count) for chat, count in updates.items()}
    wrong = {chat: counts for chat, counts in wrong.items() if counts[0] != counts[1]}
    stray = set(replies) - set(updates)
    if wrong or stray:
        sample = dict(list(wrong.items())[:5])
        raise RuntimeError(f"replies ≠ updates in {len(wrong)} chats ({sample}, replies/updates), "
                           f"{len(stray)} chats never written to")  # fmt: skip


def achieved_rate(posted: Sequence[Posted]) -> float:
    """Updates a second as they actually left, first send to last."""
    left = sorted(post.due + post.late for post in posted)
    return (len(left) - 1) / (left[-1] - left[0]) if len(left) > 1 else 0.0


# --- the open loop ------------------------------------------------------------------------


async def offer(
    session: aiohttp.ClientSession, url: str, load: Load, fake: FakeTelegram
) -> list[Posted]:
    """POST every update at its due time, never waiting for an answer; all the answers."""
    bodies = [json.dumps(fake.user_message(chat_of(n, load.chats), TEXT)).encode()
              for n in range(load.updates)]  # fmt: skip
    start = time.monotonic() + START_AFTER
    requests = []
    for number, offset in enumerate(schedule(load.rate, load.seconds)):
        due = start + offset
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        chat_id = chat_of(number, load.chats)
        requests.append(asyncio.create_task(post(session, url, bodies[number], chat_id, due)))
    return list(await asyncio.gather(*requests))


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, chat_id: int, due: float
) -> Posted:
    late = time.monotonic() - due
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
        await response.read()
        return Posted(chat_id, due, late, time.monotonic(), response.status)


# --- one run ------------------------------------------------------------------------------


def environment(fake: FakeTelegram, database_url: str, port: int) -> dict[str, str]:
    return bot_environment(
        database_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        TELEGRAM_MAX_PER_CHAT="0",
        TELEGRAM_MAX_PER_SECOND="0",
        WEB_LISTEN="off",
        METRICS_LISTEN="off",
        LOG_LEVEL="WARNING",  # a log line per update would be part of what is measured
    )


async def run_once(database_url: str, load: Load, folder: Path) -> Figures:
    async with FakeTelegram() as fake:
        env = environment(fake, database_url, free_port())
        async with BotProcess(env, folder / "bot.log") as bot:
            await bot.eventually(lambda: fake.webhook_url, what="the webhook", timeout=180)
            ready = peak_rss_mb(bot.pid)
            posted = await offered(fake, load)
            await bot.eventually(lambda: len(fake.sent) >= load.updates, what="every reply",
                                 timeout=DRAIN_SECONDS)  # fmt: skip
            await asyncio.sleep(0.5)  # a second reply to any update would show by now
            peak = peak_rss_mb(bot.pid)
        return figures_of(posted, fake.sent, (ready, peak))


async def offered(fake: FakeTelegram, load: Load) -> list[Posted]:
    url = fake.webhook_url
    assert url is not None
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=DRAIN_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return await offer(session, url, load, fake)


def figures_of(
    posted: list[Posted], sent: list[SentMessage], memory: tuple[float, float]
) -> Figures:
    refused = [post.status for post in posted if post.status != 200]
    if refused:
        raise RuntimeError(f"{len(refused)} updates not answered 200: {sorted(set(refused))}")
    return Figures(
        queued=[post.answered - post.due for post in posted],
        sent=reply_delays(posted, [m for m in sent if m.method == "sendMessage"]),
        achieved_rate=achieved_rate(posted),
        latest_send=max(post.late for post in posted),
        ready_rss_mb=memory[0],
        peak_rss_mb=memory[1],
    )


# --- the rounds ---------------------------------------------------------------------------

Fresh = Callable[[int], contextlib.AbstractAsyncContextManager[tuple[str, Path]]]


def contender(name: str, fresh: Fresh, load: Load) -> Callable[[int], Awaitable[Figures]]:
    async def one(run: int) -> Figures:
        async with fresh(run) as (url, folder):
            await migrated(url)
            figures = await run_once(url, load, folder)
        print(f"  {name}, run {run + 1}: " + " ".join(row(name, [figures])[1:]), flush=True)
        return figures

    return one


async def bench_engine(engine: str, url: str | None, load: Load, contacts: int, runs: int) -> None:
    print(engine)
    async with contextlib.AsyncExitStack() as stack:
        fresh = {"empty database": empty(url)}
        if contacts:
            fresh[f"{contacts:,} contacts"] = await stack.enter_async_context(filled(url, contacts))
        measured = await interleave_async(
            runs, [contender(name, make, load) for name, make in fresh.items()]
        )
    report(list(fresh), measured)


def empty(url: str | None) -> Fresh:
    if url is None:
        return lambda _: sqlite_copy(None)
    return lambda run: postgres_copy(url, None, 2 * run)


@contextlib.asynccontextmanager
async def filled(url: str | None, contacts: int) -> AsyncIterator[Fresh]:
    """Copies of a database holding the history of `contacts`, prepared first."""
    if url is None:
        cached = await prepared_sqlite(contacts)
        yield lambda _: sqlite_copy(cached)
        return
    async with postgres_history(url, contacts) as template:
        yield lambda run: postgres_copy(url, template, 2 * run + 1)


HEADER = (
    "",
    "queued p50",
    "p99",
    "max",
    "sent p50",
    "p99",
    "max",
    "sent/s",
    "latest",
    "RSS ready",
    "peak",
)


def report(names: list[str], measured: list[list[Figures]]) -> None:
    rows = [list(HEADER), *(row(name, runs) for name, runs in zip(names, measured, strict=True))]
    for line in aligned("  {}" + "  {}" * (len(HEADER) - 1), rows):
        print(line)
    print(LEGEND)


def row(name: str, runs: Sequence[Figures]) -> list[str]:
    return [
        name,
        *latencies(runs, lambda f: f.queued),
        *latencies(runs, lambda f: f.sent),
        spread(runs, lambda f: f.achieved_rate, ".1f"),
        spread(runs, lambda f: 1000 * f.latest_send, ".0f") + " ms",
        spread(runs, lambda f: f.ready_rss_mb, ".0f") + " MB",
        spread(runs, lambda f: f.peak_rss_mb, ".0f") + " MB",
    ]


def latencies(runs: Sequence[Figures], which: Callable[[Figures], list[float]]) -> list[str]:
    return [
        spread(runs, lambda f: 1000 * percentile(which(f), 0.5), ",.1f"),
        spread(runs, lambda f: 1000 * percentile(which(f), 0.99), ",.1f"),
        spread(runs, lambda f: 1000 * max(which(f)), ",.0f"),
    ]


def spread(runs: Sequence[Figures], figure: Callable[[Figures], float], spec: str) -> str:
    return Spread.of(figure(run) for run in runs).format(spec)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100, help="updates a second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=0, help="also on a filled database")
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    add_runs_argument(parser)
    return parser.parse_args()


async def main() -> None:
    args = arguments()
    load = Load(args.rate, args.seconds, args.chats)
    print(f"open loop: {load.updates:,} updates ({TEXT!r}) at {load.rate}/s for {load.seconds} s "
          f"from {load.chats:,} chats to `touchpoint run`'s webhook, pacing off; "
          f"{os.cpu_count()} CPUs, {args.runs} interleaved rounds, median (min–max)")  # fmt: skip
    if not args.no_sqlite:
        await bench_engine("SQLite (WAL)", None, load, args.contacts, args.runs)
    if args.postgres:
        await bench_engine("PostgreSQL", args.postgres, load, args.contacts, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
