"""One against two `touchpoint run` instances on one PostgreSQL, Telegram webhook mode: updates
per second, and the CPU each process used.

    python -m bench.instances [--updates N] [--chats M] [--connections C] [--runs R]
                              [--postgres URL]
    make bench-instances   (on a private PostgreSQL cluster)

Each run starts one or two real `touchpoint run` processes (tests/bot_process.py) serving their
webhooks on 127.0.0.1 against the fake Bot API (in this process), on a database of the run's
own on one PostgreSQL server, with pacing lifted as in the other benchmarks (the fake has no
limits). After a short warm-up (every instance's first turns, and the sending lease taken), N
updates ("thanks", one reply each) from M chats are pushed, closed loop: C chats at a time, each
chat's next update sent once the previous one was answered 200 (as Telegram sends a chat's),
every update to the next instance in turn (a round-robin balancer). Two clocks from the first
push:

- all committed: the last webhook 200 (an instance answers 200 only after the turn committed);
- all replies sent: the fake has received every reply.

CPU seconds over the same window (to all replies sent), from /proc: each bot process; the
PostgreSQL server (its postmaster, its children alive at either end and those that ended
between); and this process (the load generator and the fake Bot API). One and two instances
take turns, R rounds (bench/rounds.py); each figure is the median (min–max) over the rounds and
the ratio two/one is taken per round.

Whatever the instances, one of them at a time sends the bot's Telegram messages (the sender's
lease keeps Telegram's limits over all of them): the replies' throughput is one sender's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bench.console import free_port
from bench.databases import migrated, postgres_copy
from bench.load import environment, post
from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, ratios
from storage.uow import Database
from tests.bot_process import BotProcess, listening
from tests.fakes.telegram import FakeTelegram

TEXT = "thanks"  # one reply each
FIRST_CHAT = 700_000_001
WARM_UP = 10  # updates per instance before the clock starts
WAIT_SECONDS = 300.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU seconds: of each bot process, of the PostgreSQL server, of this process."""

    bots: tuple[float, ...]
    postgres: float
    bench: float

    def since(self, earlier: Cpu) -> Cpu:
        bots = tuple(now - then for now, then in zip(self.bots, earlier.bots, strict=True))
        return Cpu(bots, self.postgres - earlier.postgres, self.bench - earlier.bench)


@dataclass(frozen=True, slots=True)
class Figures:
    instances: int
    updates: int
    committed: float  # seconds from the first push to the last 200
    sent: float  # seconds from the first push to the last reply received by the fake
    cpu_committed: Cpu  # over the first window
    cpu_sent: Cpu  # over the second

    @property
    def committed_per_second(self) -> float:
        return self.updates / self.committed

    @property
    def sent_per_second(self) -> float:
        return self.updates / self.sent


# --- CPU time from /proc -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / TICKS  # utime stime cutime cstime


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if parent_of(int(entry.name)) == parent:
                    found.append(int(entry.name))
    return found


class ServerCpu:
    """The CPU of a PostgreSQL server: its postmaster (whose children's ended lives add to
    its own counters once it reaped them) and its live children."""

    def __init__(self, postmaster: int) -> None:
        self._postmaster = postmaster
        self._last: dict[int, float] = {}

    def reading(self) -> float:
        total = cpu_seconds(self._postmaster)
        for pid in children(self._postmaster):
            with contextlib.suppress(OSError):
                self._last[pid] = cpu_seconds(pid)
                total += self._last[pid]
        return total


async def postmaster_of(url: str) -> int:
    """The pid of the server's postmaster: the parent of our own backend, while it lives."""
    database = Database.from_url(url)
    try:
        async with database.transaction() as uow:
            backend = (await uow.connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            return parent_of(int(backend))
    finally:
        await database.dispose()


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the instances -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instance:
    process: BotProcess
    webhook: str


@contextlib.asynccontextmanager
async def instances(
    count: int, fake: FakeTelegram, url: str, folder: Path
) -> AsyncIterator[list[Instance]]:
    """`count` instances serving their webhooks on one database."""
    started = []
    for number in range(count):
        port = free_port()
        env = environment(fake, url, port) | {"INSTANCE_NAME": f"bench-{number}"}
        process = BotProcess(env, folder / f"bot-{number}.log")
        started.append(Instance(process, f"http://127.0.0.1:{port}/telegram"))
    try:
        for instance in started:
            await instance.process.start()
        for instance in started:
            await instance.process.eventually(
                functools.partial(listening, instance.webhook), what="the webhook", timeout=180
            )
        yield started
    finally:
        for instance in started:
            await instance.process.stop()


# --- the closed loop -----------------------------------------------------------------------


def chats_updates(fake: FakeTelegram, first: int, chats: int, updates: int) -> list[list[bytes]]:
    """Each chat's updates in the order Telegram numbers them, `updates` over `chats`."""
    per_chat: list[list[bytes]] = [[] for _ in range(chats)]
    for number in range(updates):
        update = fake.user_message(first + number % chats, TEXT)
        per_chat[number % chats].append(json.dumps(update).encode())
    return per_chat


async def push(targets: Sequence[Instance], per_chat: list[list[bytes]], connections: int) -> float:
    """Every update to the next instance in turn, `connections` chats at a time, each chat's in
    order; returns when the last 200 came (perf_counter)."""
    turn = iter(range(10**12))
    pending = iter(per_chat)
    limit = aiohttp.TCPConnector(limit=connections * len(targets))
    timeout = aiohttp.ClientTimeout(total=WAIT_SECONDS)
    async with aiohttp.ClientSession(connector=limit, timeout=timeout) as session:

        async def customer() -> None:
            for updates in pending:
                for body in updates:
                    target = targets[next(turn) % len(targets)]
                    posted = await post(session, target.webhook, body, 0, time.monotonic())
                    if posted.status != 200:
                        raise RuntimeError(f"the webhook answered {posted.status}")

        await asyncio.gather(*(customer() for _ in range(connections)))
    return time.perf_counter()


async def replies(fake: FakeTelegram, count: int) -> float:
    """When the fake has received `count` replies (perf_counter)."""
    deadline = time.perf_counter() + WAIT_SECONDS
    while sum(m.method == "sendMessage" for m in fake.sent) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{count} replies not sent within {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(0.01)
    return time.perf_counter()


# --- one run -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    updates: int
    chats: int
    connections: int


async def run_once(count: int, server_url: str, load: Load, run: int) -> Figures:
    async with (
        postgres_copy(server_url, None, run) as (url, folder),
        FakeTelegram() as fake,
    ):
        await migrated(url)
        server = ServerCpu(await postmaster_of(url))
        async with instances(count, fake, url, folder) as serving:
            warm = chats_updates(fake, FIRST_CHAT - 1000, WARM_UP * count, WARM_UP * count)
            await push(serving, warm, WARM_UP * count)
            await replies(fake, WARM_UP * count)
            per_chat = chats_updates(fake, FIRST_CHAT, load.chats, load.updates)

            def reading() -> Cpu:
                bots = tuple(cpu_seconds(i.process.pid) for i in serving)
                return Cpu(bots, server.reading(), own_cpu())

            before, started = reading(), time.perf_counter()
            committed = await push(serving, per_chat, load.connections)
            at_committed = reading()
            sent = await replies(fake, WARM_UP * count + load.updates)
            at_sent = reading()
    return Figures(
        instances=count,
        updates=load.updates,
        committed=committed - started,
        sent=sent - started,
        cpu_committed=at_committed.since(before),
        cpu_sent=at_sent.since(before),
    )


def contender(count: int, server_url: str, load: Load) -> Callable[[int], Awaitable[Figures]]:
    async def one(run: int) -> Figures:
        figures = await run_once(count, server_url, load, 2 * run + count - 1)
        cells = zip(HEADER[1:], row([figures])[1:], strict=True)
        print(f"  run {run + 1}, {row([figures])[0]}: " + ", ".join(f"{v} {h}" for h, v in cells),
              flush=True)  # fmt: skip
        return figures

    return one


# --- the report ----------------------------------------------------------------------------

HEADER = (
    "",
    "committed/s",
    "replies sent/s",
    "s to the last reply",
    "CPU s to committed: bots",
    "PostgreSQL",
    "bench",
    "CPU s to the last reply: bots",
    "PostgreSQL",
    "bench",
)


def row(runs: Sequence[Figures]) -> list[str]:
    def spread(figure: Callable[[Figures], float], spec: str = ".1f") -> str:
        return Spread.of(figure(run) for run in runs).format(spec)

    return [
        f"{runs[0].instances} instance" + ("s" if runs[0].instances > 1 else ""),
        spread(lambda f: f.committed_per_second, ".0f"),
        spread(lambda f: f.sent_per_second, ".0f"),
        spread(lambda f: f.sent),
        *cpu_cells(runs, lambda f: f.cpu_committed),
        *cpu_cells(runs, lambda f: f.cpu_sent),
    ]


def cpu_cells(runs: Sequence[Figures], window: Callable[[Figures], Cpu]) -> list[str]:
    def spread(figure: Callable[[Cpu], float]) -> str:
        return Spread.of(figure(window(run)) for run in runs).format(".1f")

    bots = len(window(runs[0]).bots)
    return [
        " + ".join(spread(functools.partial(bot_cpu, number=n)) for n in range(bots)),
        spread(lambda cpu: cpu.postgres),
        spread(lambda cpu: cpu.bench),
    ]


def bot_cpu(cpu: Cpu, number: int) -> float:
    return cpu.bots[number]


def report(one: list[Figures], two: list[Figures]) -> None:
    for line in aligned("  {}" + "  {}" * (len(HEADER) - 1), [list(HEADER), row(one), row(two)]):
        print(line)
    committed = ratios([f.committed_per_second for f in two], [f.committed_per_second for f in one])
    sent = ratios([f.sent_per_second for f in two], [f.sent_per_second for f in one])
    print(f"  two / one: committed {committed.format('.2f')}, replies sent {sent.format('.2f')}")
    print("  CPU seconds from the first push to the last 200 (committed) and to the last reply;")
    print("  bench: the load generator and the fake Bot API in this process")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--connections", type=int, default=50, help="chats pushed at once")
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    add_runs_argument(parser)
    return parser.parse_args()


async def main() -> None:
    args = arguments()
    if not args.postgres:
        raise SystemExit(
            "bench.instances needs PostgreSQL: --postgres URL, or make bench-instances"
        )
    load = Load(args.updates, args.chats, args.connections)
    print(f"closed loop: {load.updates:,} updates ({TEXT!r}) from {load.chats} chats, "
          f"{load.connections} at a time, round robin over the instances' webhooks; PostgreSQL, "
          f"pacing lifted; {os.cpu_count()} CPUs, {args.runs} interleaved rounds, "
          "median (min–max)")  # fmt: skip
    one, two = await interleave_async(
        args.runs, [contender(1, args.postgres, load), contender(2, args.postgres, load)]
    )
    report(one, two)


if __name__ == "__main__":
    asyncio.run(main())
