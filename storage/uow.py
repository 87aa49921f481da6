"""The unit of work: one transaction with every repository on its connection.

It rolls back unless `commit()` is called, so a handler that raises leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import advisory_lock, create_engine, upgrade
from storage.repos.contacts import ContactRepository
from storage.repos.conversations import ConversationRepository
from storage.repos.cursors import CursorRepository
from storage.repos.dead_letters import DeadLetterRepository
from storage.repos.followups import FollowUpRepository
from storage.repos.handoffs import HandoffRepository
from storage.repos.leads import LeadRepository
from storage.repos.messages import MessageRepository
from storage.repos.outbox import OutboxRepository
from storage.repos.reps import RepRepository
from storage.repos.tickets import TicketRepository
from storage.repos.touchpoints import TouchpointRepository


class UnitOfWork:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.contacts = ContactRepository(connection)
        self.conversations = ConversationRepository(connection)
        self.messages = MessageRepository(connection)
        self.touchpoints = TouchpointRepository(connection)
        self.leads = LeadRepository(connection)
        self.tickets = TicketRepository(connection)
        self.followups = FollowUpRepository(connection)
        self.handoffs = HandoffRepository(connection)
        self.reps = RepRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.cursors = CursorRepository(connection)
        self.dead_letters = DeadLetterRepository(connection)
        self._committed = False

    async def commit(self) -> None:
        await self.connection.commit()
        self._committed = True

    @property
    def committed(self) -> bool:
        return self._committed


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Database:
    """Owns the engine; hands out units of work.

    SQLite has a single writer: transactions are serialised in-process (and start with
    `BEGIN IMMEDIATE`) so concurrent turns wait for each other instead of failing with
    "database is locked". PostgreSQL transactions run concurrently; `lock` keys serialise the
    ones that touch the same conversation, across instances too.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._writer = asyncio.Lock()
        if self.is_sqlite:
            _begin_immediately(engine)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    async def upgrade(self) -> None:
        await upgrade(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *lock: str) -> AsyncIterator[UnitOfWork]:
        async with self._serialised(), self.engine.connect() as connection:
            await connection.begin()
            if lock:
                await advisory_lock(connection, lock_key(*lock))
            uow = UnitOfWork(connection)
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


def _begin_immediately(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling would BEGIN lazily (DEFERRED); take the write lock
    # up front so a read-then-write turn never fails on a lock upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_begin(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: object) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
