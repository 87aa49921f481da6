"""The one interface repositories use to run SQL, over an async or a sync SQLAlchemy connection.

PostgreSQL work runs on asyncpg through `AsyncConnection`. SQLite work of the bot's hot paths
runs on a dedicated database thread with the plain sqlite3 driver (see `storage/sqlite_thread.py`),
where each statement is a direct call: the repositories do not care which.

Writes whose outcome the caller does not read (a turn's touchpoints, its outbox rows, its new
state) may be `defer`red. On SQLite they run at once: a statement is a call, not a trip. On
PostgreSQL each statement is a round trip to the server, so they wait until the next statement,
savepoint or commit, and those waiting together go as one statement: each a data-modifying
`WITH` of it (see `storage/write_behind.py`). A transaction reads its own deferred writes, as
they are sent before anything else runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Dialect, Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.write_behind import Check, Parameters, Rows, WriteBehind, Writing


class SqlConnection(Protocol):
    """A connection inside a transaction; repositories only ever see this."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows: ...

    async def defer(
        self, statement: Writing, parameters: Parameters = None, check: Check | None = None
    ) -> None:
        """Run a write whose rows nobody reads, by the next statement or commit at the latest;
        `check` is then given how many rows it changed (and raises when that is wrong). Its
        errors may surface at that later call."""

    def savepoint(self) -> AbstractAsyncContextManager[Any]: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class AsyncAdapter:
    """An `AsyncConnection` (asyncpg or aiosqlite) as a `SqlConnection`."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        # Only PostgreSQL takes writes in WITH; on aiosqlite each deferred write runs at once.
        merges = connection.dialect.name == "postgresql"
        self._later = WriteBehind(connection.execute) if merges else None

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        await self._flush()
        return await self._connection.execute(statement, parameters)

    async def defer(
        self, statement: Writing, parameters: Parameters = None, check: Check | None = None
    ) -> None:
        if self._later is None:
            rows = await self._connection.execute(statement, parameters)
            if check is not None:
                check(rows.rowcount)
            return
        await self._later.add(statement, parameters, check)

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        return self._savepoint()

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[object]:
        await self._flush()
        async with self._connection.begin_nested() as nested:
            try:
                yield nested
            except BaseException:
                self._discard()  # rolled back to the savepoint: never sent
                raise
            await self._flush()

    async def commit(self) -> None:
        await self._flush()
        await self._connection.commit()

    async def rollback(self) -> None:
        self._discard()
        await self._connection.rollback()

    async def _flush(self) -> None:
        if self._later is not None:
            await self._later.flush()

    def _discard(self) -> None:
        if self._later is not None:
            self._later.discard()


class SyncAdapter:
    """A sync `Connection` used from the one thread that owns it; every call runs at once."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        return self._connection.execute(statement, parameters)

    async def defer(
        self, statement: Writing, parameters: Parameters = None, check: Check | None = None
    ) -> None:
        rows = self._connection.execute(statement, parameters)
        if check is not None:
            check(rows.rowcount)

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        return _sync_savepoint(self._connection)

    async def commit(self) -> None:
        self._connection.commit()

    async def rollback(self) -> None:
        self._connection.rollback()


@asynccontextmanager
async def _sync_savepoint(connection: Connection) -> AsyncIterator[object]:
    with connection.begin_nested() as nested:
        yield nested
