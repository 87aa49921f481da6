"""The sales console over a big history: page times and the server's memory.

    python -m bench.console [--contacts N] [--requests K] [--runs R] [--postgres URL]
    make bench-console   (the same with a private PostgreSQL cluster)

A history of N contacts (100,000 by default: ~1,050,000 touchpoints, ~1,000,000 messages with
text, 20,000 leads, 10,000 tickets, 5,000 hand-offs with ratings) over the last 365 days is
written straight into the tables by bench/history.py — into a SQLite file kept in
$XDG_CACHE_HOME/touchpoint-bench (reused while its schema and size match and it is under a
week old) and, when a URL is given or TOUCHPOINT_BENCH_POSTGRES_URL is set, into PostgreSQL.

Then the real console is started as a subprocess (`touchpoint web` on a free port of
127.0.0.1) and a manager's session is made directly (uow.console_access). In R interleaved
rounds, each page is fetched K times in a row (a year's pages K/4 times, at least 3) and its
p50 and p95 taken:

- the dashboard for the last 30 and the last 365 days, beside its baseline: `reports.build`
  for the same period in this process (the figures the page shows, without the page);
- the pipeline board, when the branch has it;
- a contact's page, when the branch has it; else the query a contact page needs (the contact's
  newest 100 touchpoints), in this process, said so.

Printed: each figure as median (min–max) over the rounds, the page/baseline ratio per round,
and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from bench.history import after_bulk_load, generate, history
from bench.rounds import (
    Spread,
    add_runs_argument,
    aligned,
    interleave_async,
    percentile,
    ratios,
)
from bot import reports
from bot.model import Address
from storage.uow import Database
from web.auth import COOKIE

Timer = Callable[[int], Awaitable[list[float]]]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "touchpoint-bench"
FRESH_FOR = timedelta(days=7)
MESSAGES_PER_CONTACT = 10.5  # on average, for the line that says what was generated


@dataclass(frozen=True, slots=True)
class Served:
    process: subprocess.Popen[bytes]
    base_url: str
    cookie: str

    @property
    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


# --- the history ------------------------------------------------------------------------


async def prepared_sqlite(contacts: int) -> str:
    """A SQLite file of the history, generated once and reused while it fits."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"console-{contacts}.db"
    url = f"sqlite+aiosqlite:///{path}"
    if path.exists() and await _reusable(url, path, contacts):
        print(f"  reusing {path}")
        return url
    for stale in CACHE.glob(f"console-{contacts}.db*"):
        stale.unlink()
    await prepare(url, contacts)
    _meta(path).write_text(json.dumps({"contacts": contacts, "at": _today().isoformat()}))
    return url


async def _reusable(url: str, path: Path, contacts: int) -> bool:
    meta = _meta(path)
    if not meta.exists():
        return False
    known = json.loads(meta.read_text())
    young = _today() - datetime.fromisoformat(known["at"]) < FRESH_FOR
    database = Database.from_url(url)
    try:
        current = await database.is_current()
    finally:
        await database.dispose()
    return bool(current and young and known["contacts"] == contacts)


def _meta(path: Path) -> Path:
    return path.with_suffix(".json")


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def prepare(url: str, contacts: int) -> None:
    """The schema, then the history of the last 365 days."""
    database = Database.from_url(url)
    try:
        await database.upgrade()
        started = time.perf_counter()
        year = history(contacts, start=_today() - timedelta(days=365))
        points = await generate(database, year, records=True)
        await after_bulk_load(database)
        print(f"  generated {contacts:,} contacts, {points:,} touchpoints, "
              f"~{int(contacts * MESSAGES_PER_CONTACT):,} messages, {contacts // 5:,} leads "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    finally:
        await database.dispose()


# --- the console, served ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve(url: str) -> Served:
    """`touchpoint web` over the database, and a manager signed in to it."""
    port = free_port()
    process = _started(url, port)
    served = Served(process, f"http://127.0.0.1:{port}", await signed_in_manager(url))
    await _until_listening(served)
    return served


def _started(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "IMAP_", "SMTP_"))}
    env.update(DATABASE_URL=url, WEB_LISTEN=f"127.0.0.1:{port}", LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "bot", "web"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def signed_in_manager(url: str) -> str:
    """A manager's session cookie, made directly (no sign-in link)."""
    database = Database.from_url(url)
    now = datetime.now(UTC)
    try:
        async with database.transaction() as uow:
            rep_id = await uow.reps.add(
                name="Bench Manager", languages=("en",), role="manager", capacity=5, now=now,
                identities=[Address("email", f"manager-{random.randrange(10**9)}@bench.example")],
            )  # fmt: skip
            made = await uow.console_access.new_session(rep_id, now, timedelta(hours=12))
            await uow.commit()
    finally:
        await database.dispose()
    return made.secret


async def _until_listening(served: Served) -> None:
    async with ClientSession() as client:
        for _ in range(300):
            if served.process.poll() is not None:
                raise RuntimeError("the console did not start")
            try:
                async with client.get(served.base_url + "/login") as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the console did not answer in 30 s")


def stop(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=30)


# --- the measures ---------------------------------------------------------------------


def page_timer(client: ClientSession, served: Served, path: str, requests: int) -> Timer:
    async def timed(_: int) -> list[float]:
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            async with client.get(served.base_url + path) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status}")
            times.append(time.perf_counter() - started)
        return times

    return timed


def query_timer(
    database: Database, requests: int, work: Callable[[Any], Awaitable[object]]
) -> Timer:
    async def timed(_: int) -> list[float]:
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            await database.run(work)
            times.append(time.perf_counter() - started)
        return times

    return timed


def report_of(days: int) -> Callable[[Any], Awaitable[object]]:
    """`reports.build` for the last `days` days, as the dashboard asks for it."""
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    period = reports.Period(today - timedelta(days=days - 1), today + timedelta(days=1))
    return lambda uow: reports.build(uow, period, now=now, followup_after=timedelta(hours=24))


def last_days(days: int) -> str:
    today = datetime.now(UTC).date()
    return f"/?since={today - timedelta(days=days - 1)}&until={today}"


# --- one engine -------------------------------------------------------------------------


async def contenders(
    client: ClientSession, served: Served, database: Database, requests: int
) -> list[tuple[str, Timer]]:
    """What is measured, each page beside its baseline where it has one."""
    chosen: list[tuple[str, Timer]] = []
    yearly = max(3, requests // 4)  # a year's page takes seconds: fewer of them
    for days, times in ((30, requests), (365, yearly)):
        chosen.append(
            (f"reports.build, {days} days", query_timer(database, times, report_of(days)))
        )
        chosen.append((f"GET / ({days} days)", page_timer(client, served, last_days(days), times)))
    chart = "/charts/leads_per_day.svg" + last_days(365).removeprefix("/")
    chosen.append(("GET leads-per-day chart (365 days)", page_timer(client, served, chart, yearly)))
    if await _exists(client, served, "/pipeline"):
        chosen.append(("GET /pipeline", page_timer(client, served, "/pipeline", requests)))
    else:
        print("  /pipeline: not on this branch, not measured")
    chosen.append(await _contact(client, served, database, requests))
    return chosen


async def _contact(
    client: ClientSession, served: Served, database: Database, requests: int
) -> tuple[str, Timer]:
    contact_id = 4240  # a contact with a lead (one in five) and a ticket (one in ten)
    path = f"/contacts/{contact_id}"
    if await _exists(client, served, path):
        return f"GET {path}", page_timer(client, served, path, requests)
    print(f"  {path}: not on this branch; measured: the query its timeline needs")

    async def newest(uow: Any) -> object:
        return await uow.touchpoints.search(contact_id=contact_id, limit=100)

    return "contact's newest 100 touchpoints (query)", query_timer(database, requests, newest)


async def _exists(client: ClientSession, served: Served, path: str) -> bool:
    async with client.get(served.base_url + path) as response:
        await response.read()
        return response.status == 200


async def bench_engine(url: str, requests: int, runs: int) -> None:
    served = await serve(url)
    database = Database.from_url(url)
    try:
        headers = {"Cookie": f"{COOKIE}={served.cookie}"}
        async with ClientSession(headers=headers) as client:
            chosen = await contenders(client, served, database, requests)
            measured = await interleave_async(runs, [timer for _, timer in chosen])
        print_figures([name for name, _ in chosen], measured)
        print(f"  console's peak RSS (VmHWM)   {served.peak_rss_mb:.0f} MB")
    finally:
        stop(served)
        await database.dispose()


def print_figures(names: list[str], measured: list[list[list[float]]]) -> None:
    rows = [("", "p50 ms", "p95 ms")]
    for name, rounds in zip(names, measured, strict=True):
        p50 = Spread.of(1000 * percentile(times, 0.5) for times in rounds)
        p95 = Spread.of(1000 * percentile(times, 0.95) for times in rounds)
        rows.append((name, p50.format(",.0f"), p95.format(",.0f")))
    for line in aligned("  {}   {}   {}", rows):
        print(line)
    by_name = dict(zip(names, measured, strict=True))
    for days in (30, 365):
        page = [percentile(t, 0.5) for t in by_name[f"GET / ({days} days)"]]
        floor = [percentile(t, 0.5) for t in by_name[f"reports.build, {days} days"]]
        ratio = ratios(page, floor).format(",.2f")
        print(f"  dashboard / reports.build, {days} days (p50)   {ratio}×")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="requests per page per round")
    parser.add_argument("--postgres", default=os.environ.get("TOUCHPOINT_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    add_runs_argument(parser)
    args = parser.parse_args()
    print(f"the console over {args.contacts:,} contacts, {os.cpu_count()} CPUs, "
          f"{args.runs} interleaved rounds of {args.requests} requests per page")  # fmt: skip
    if not args.no_sqlite:
        print("SQLite (WAL)")
        await bench_engine(await prepared_sqlite(args.contacts), args.requests, args.runs)
    if args.postgres:
        print("PostgreSQL")
        await prepare(args.postgres, args.contacts)
        await bench_engine(args.postgres, args.requests, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
