"""Fixtures shared by the whole suite: databases on both engines, a fake clock, the bot."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import words
from bot.word_store import open_store
from storage.tables import metadata
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotHarness, FakeClock
from tests.services import postgres as postgres_service
from tests.services.dovecot import dovecot  # noqa: F401  (the session fixture)

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
ENGINES = ("sqlite", "postgres")

# The session fixture of the PostgreSQL server, made visible to every test.
postgres_server = postgres_service.postgres_server

# Property-based tests draw the same examples on every CI run (a failure there is reproducible
# as it is); on a developer's machine they explore, and keep what failed in .hypothesis/.
# A `touchpoint run` started by a test serves no console and no metrics unless the test gives
# it a port: the default ones may be a developer's running bot's, and tests must not fight over
# them.
os.environ["WEB_LISTEN"] = "off"
os.environ["METRICS_LISTEN"] = "off"

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def require_shared(*parts: str) -> Path:
    """A path under ../shared; skips where it is absent, fails under CI."""
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{path} is missing: CI must run the corpus tests")
    pytest.skip(f"../shared is absent ({path}); corpus tests need the shared folder")


@pytest.fixture(scope="session", autouse=True)
def word_files() -> None:
    """The word lists' files, written once before any test (the first time on a machine, about
    8 s) rather than by whichever test or `touchpoint run` under a timeout happens to be first."""
    for lang in words.LANGUAGES:
        open_store(lang).close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for every test (migrating each time is slower)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_blocking(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A migrated database of this test run's own, so that runs sharing a server (through
    TOUCHPOINT_TEST_POSTGRES_URL) never empty each other's tables."""
    name = f"touchpoint_test_{os.getpid()}"
    run_blocking(_create_database(postgres_server, name))
    try:
        yield f"{postgres_server}/{name}"
    finally:
        run_blocking(_drop_database(postgres_server, name))


def run_blocking(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end from sync code, even when called inside a running loop
    (session fixtures are first requested from async fixtures)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


async def _migrate(url: str) -> None:
    database = Database.from_url(url)
    try:
        await database.upgrade()
    finally:
        await database.dispose()


async def _create_database(server: str, name: str) -> None:
    await administer(
        server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"
    )
    await _migrate(f"{server}/{name}")


async def _drop_database(server: str, name: str) -> None:
    await administer(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def administer(server: str, *statements: str) -> None:
    engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _truncate(database: Database) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=ENGINES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        db = Database.from_url(request.getfixturevalue("postgres_url"))
        await _truncate(db)
    yield db
    await db.dispose()


def sqlite_copy(template: Path, folder: Path) -> Database:
    """A fresh SQLite database in `folder`, copied from the migrated template."""
    path = folder / "touchpoint.db"
    shutil.copy(template, path)
    return Database.from_url(f"sqlite+aiosqlite:///{path}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram Bot API on 127.0.0.1, for the real client to talk to."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bot(database: Database, clock: FakeClock) -> BotHarness:
    return BotHarness(database, clock)
