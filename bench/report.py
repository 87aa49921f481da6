"""`touchpoint report` over a generated year of history, against reading that year's rows.

    python -m bench.report [--conversations N] [--postgres URL] [--runs R]

A year is generated into a fresh database (SQLite always; PostgreSQL when a URL is given or
TOUCHPOINT_BENCH_POSTGRES_URL is set) by bench/history.py: N conversations spread over 365
days with their messages, leads, hand-offs, ratings and tickets. Then, in R interleaved rounds:

- baseline: one `SELECT count(*)` of every touchpoint of the year — the least any report
  over the period must read;
- report: `reports.build` for the whole year, as `touchpoint report --since … --until …` runs it.

Printed: the rows generated, each figure as median (min–max) seconds, and report/baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.history import START, after_bulk_load, generate, history
from bench.rounds import Spread, add_runs_argument, interleave_async, ratios
from bot import reports
from storage.tables import touchpoints
from storage.uow import Database

YEAR = reports.Period(START, START + timedelta(days=365))


async def bench_engine(url: str, count: int, runs: int) -> None:
    database = Database.from_url(url)
    try:
        await database.upgrade()
        started = time.perf_counter()
        rows = await generate(database, history(count))
        await after_bulk_load(database)  # statistics, as a database that grew has them
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
