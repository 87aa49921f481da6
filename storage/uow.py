"""The unit of work: one transaction with every repository on its connection.

It rolls back unless `commit()` is called, so a handler that raises leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.connection import AsyncAdapter, SqlConnection
from storage.db import (
    configure_sqlite,
    create_engine,
    create_reader,
    schema_is_current,
    upgrade,
)
from storage.repos.activity import ActivityRepository
from storage.repos.console_access import ConsoleAccessRepository
from storage.repos.contacts import ContactRepository
from storage.repos.conversations import ConversationRepository
from storage.repos.cursors import CursorRepository
from storage.repos.dead_letters import DeadLetterRepository
from storage.repos.exports import ExportRepository
from storage.repos.handoffs import HandoffRepository
from storage.repos.health import HealthRepository
from storage.repos.leader_leases import LeaderLeaseRepository
from storage.repos.leads import LeadRepository
from storage.repos.merges import MergeRepository
from storage.repos.message_files import MessageFileRepository
from storage.repos.messages import MessageRepository
from storage.repos.outbox import OutboxRepository
from storage.repos.reps import RepRepository
from storage.repos.retention import RetentionRepository
from storage.repos.tickets import TicketRepository
from storage.repos.timers import TimerRepository
from storage.repos.touchpoints import TouchpointRepository
from storage.repos.webhooks import WebhookRepository
from storage.sqlite_thread import SQLiteThread

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, connection: SqlConnection) -> None:
        self.connection = connection
        self.contacts = ContactRepository(connection)
        self.merges = MergeRepository(connection)
        self.conversations = ConversationRepository(connection)
        self.messages = MessageRepository(connection)
        self.message_files = MessageFileRepository(connection)
        self.touchpoints = TouchpointRepository(connection)
        self.activity = ActivityRepository(connection)
        self.leads = LeadRepository(connection)
        self.exports = ExportRepository(connection)
        self.tickets = TicketRepository(connection)
        self.timers = TimerRepository(connection)
        self.handoffs = HandoffRepository(connection)
        self.reps = RepRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.cursors = CursorRepository(connection)
        self.dead_letters = DeadLetterRepository(connection)
        self.retention = RetentionRepository(connection)
        self.webhooks = WebhookRepository(connection)
        self.console_access = ConsoleAccessRepository(connection)
        self.health = HealthRepository(connection)
        self.leader_leases = LeaderLeaseRepository(connection)
        self._committed = False

    async def commit(self) -> None:
        await self.connection.commit()
        self._committed = True

    @property
    def committed(self) -> bool:
        return self._committed


class Database:
    """Owns the engines; hands out units of work.

    `run(work)` is how the bot's own loops use the database: the whole transaction is one
    call, which on SQLite goes to the writer thread (`storage/sqlite_thread.py`).
    `transaction()` yields a unit of work to code that interleaves other awaits (the CLI,
    tests); on SQLite those transactions are serialised in-process, and `BEGIN IMMEDIATE` with
    a busy timeout orders them with the writer thread.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._writer = asyncio.Lock()
        self._thread = SQLiteThread(str(engine.url), configure_sqlite) if self.is_sqlite else None
        self._reader = create_reader(str(engine.url)) if self.is_sqlite else None

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    async def upgrade(self) -> None:
        await upgrade(self.engine)

    async def is_current(self) -> bool:
        """Whether the schema is at the newest migration; changes nothing."""
        return await schema_is_current(self.engine)

    async def dispose(self) -> None:
        if self._thread is not None:
            self._thread.close()
        if self._reader is not None:
            await self._reader.dispose()
        await self.engine.dispose()

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one transaction; it must commit through the unit of work to keep it."""
        if self._thread is not None:
            return await self._thread.run(lambda connection: work(UnitOfWork(connection)))
        async with self.transaction() as uow:
            return await work(uow)

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in a transaction that changes nothing (rolled back). On SQLite it is a
        deferred transaction on a connection of its own: it waits for neither the writer
        thread nor the write lock, and the bot's turns go on while it reads (WAL)."""
        engine = self._reader or self.engine
        async with engine.connect() as connection:
            await connection.begin()
            if not self.is_sqlite:
                await connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                return await work(UnitOfWork(AsyncAdapter(connection)))
            finally:
                await connection.rollback()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self._serialised(), self.engine.connect() as connection:
            await connection.begin()
            uow = UnitOfWork(AsyncAdapter(connection))
            try:
                yield uow
            finally:
                if not uow.committed:
                    await connection.rollback()

    @asynccontextmanager
    async def _serialised(self) -> AsyncIterator[None]:
        if not self.is_sqlite:
            yield
            return
        async with self._writer:
            yield
