"""The console's reads run beside the bot: a long read holds no lock a turn needs."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from bot.records import TouchpointRow
from storage.tables import touchpoints
from storage.uow import UnitOfWork
from tests.harness import BotHarness
from tests.integration.helpers import kinds

GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)


async def test_a_turn_commits_while_a_long_read_is_open(bot: BotHarness) -> None:
    reading, turn_done = asyncio.Event(), asyncio.Event()

    async def long_read(uow: UnitOfWork) -> list[TouchpointRow]:
        seen = await uow.touchpoints.search(limit=10)
        reading.set()
        await turn_done.wait()  # the read stays open while the customer's turn runs
        return seen

    reader = asyncio.create_task(bot.database.read(long_read))
    await reading.wait()
    # On SQLite a turn stuck behind the reader would wait out the 30 s busy timeout.
    replies = await asyncio.wait_for(bot.customer("alice").say("Hello"), timeout=10)
    turn_done.set()

    assert replies == [GREETING, "What would you like to do?"]
    assert await reader == []
    assert "message_in" in await kinds(bot.database)


async def test_a_read_cannot_write(bot: BotHarness) -> None:
    await bot.customer("alice").say("Hello")

    async def writes(uow: UnitOfWork) -> None:
        await uow.connection.execute(touchpoints.delete())

    with pytest.raises(DBAPIError, match=r"(?i)read.only|readonly"):
        await bot.database.read(writes)
    assert "message_in" in await kinds(bot.database)
