"""SQLite's writer thread runs transactions that arrive together in one commit: each keeps its
all-or-nothing meaning, and a failing one takes none of the others with it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.logs import ABOUT, about
from storage.sqlite_thread import WaitedOnTheWriter
from storage.uow import Database, UnitOfWork
from tests.conftest import sqlite_copy

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Refused(Exception):
    pass


def writes(
    key: str, *, commit: bool = True, fail: bool = False
) -> Callable[[UnitOfWork], Awaitable[str]]:
    async def work(uow: UnitOfWork) -> str:
        await uow.cursors.put("test", key, "written", NOW)
        if fail:
            raise Refused(key)
        if commit:
            await uow.commit()
        return key

    return work


async def stored(database: Database) -> list[str]:
    async def keys(uow: UnitOfWork) -> list[str]:
        return [key for key in "abcdef" if await uow.cursors.get("test", key) is not None]

    return await database.read(keys)


async def test_pieces_batched_together_commit_or_roll_back_each_on_its_own(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = sqlite_copy(sqlite_template, tmp_path)
    held, released = threading.Event(), threading.Event()

    async def holds_the_writer(uow: UnitOfWork) -> str:
        held.set()
        released.wait(timeout=10)  # blocks the writer thread: the next pieces queue up
        return await writes("a")(uow)

    try:
        first = asyncio.create_task(database.run(holds_the_writer))
        await asyncio.to_thread(held.wait, 10)
        batch = [
            asyncio.create_task(database.run(work))
            for work in (
                writes("b"),
                writes("c", fail=True),
                writes("d"),
                writes("e", commit=False),
                writes("f"),
            )
        ]
        await asyncio.sleep(0.05)  # every piece handed to the writer before it is released
        released.set()
        assert await first == "a"
        outcomes = await asyncio.gather(*batch, return_exceptions=True)

        assert outcomes[0] == "b" and outcomes[2] == "d" and outcomes[4] == "f"
        assert isinstance(outcomes[1], Refused)
        assert outcomes[3] == "e"  # returned, but never committed
        assert await stored(database) == ["a", "b", "d", "f"]
    finally:
        released.set()
        await database.dispose()


async def test_a_piece_alone_that_fails_leaves_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = sqlite_copy(sqlite_template, tmp_path)
    try:
        with pytest.raises(Refused):
            await database.run(writes("a", fail=True))
        await database.run(writes("b", commit=False))
        assert await database.run(writes("c")) == "c"
        assert await stored(database) == ["c"]
    finally:
        await database.dispose()


async def test_a_piece_that_waits_on_anything_but_its_statements_is_refused(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The thread runs each piece in one step; a piece that would wait (here a sleep) is
    refused with its writes undone, and the thread goes on with the next."""
    database = sqlite_copy(sqlite_template, tmp_path)

    async def waits(uow: UnitOfWork) -> str:
        await uow.cursors.put("test", "a", "written", NOW)
        await asyncio.sleep(0)
        await uow.commit()
        return "a"

    try:
        with pytest.raises(WaitedOnTheWriter):
            await database.run(waits)
        assert await database.run(writes("b")) == "b"
        assert await stored(database) == ["b"]
    finally:
        await database.dispose()


async def test_a_piece_runs_in_its_callers_context(sqlite_template: Path, tmp_path: Path) -> None:
    """What a turn's log lines are about travels with its transaction to the writer thread."""
    database = sqlite_copy(sqlite_template, tmp_path)

    async def seen(_uow: UnitOfWork) -> object:
        return ABOUT.get()

    async def about_conversation(number: int) -> object:
        with about(conversation_id=number):
            return await database.run(seen)

    try:
        found = await asyncio.gather(*(about_conversation(number) for number in range(5)))
        assert found == [{"conversation_id": number} for number in range(5)]
    finally:
        await database.dispose()
