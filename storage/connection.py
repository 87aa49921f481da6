"""The one interface repositories use to run SQL, over an async or a sync SQLAlchemy connection.

PostgreSQL work runs on asyncpg through `AsyncConnection`. SQLite work of the bot's hot paths
runs on a dedicated database thread with the plain sqlite3 driver (see `storage/sqlite_thread.py`),
where each statement is a direct call: the repositories do not care which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, CursorResult, Dialect, Executable
from sqlalchemy.ext.asyncio import AsyncConnection

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Rows = CursorResult[*tuple[Any, ...]]


class SqlConnection(Protocol):
    """A connection inside a transaction; repositories only ever see this."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows: ...

    def savepoint(self) -> AbstractAsyncContextManager[Any]: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class AsyncAdapter:
    """An `AsyncConnection` (asyncpg or aiosqlite) as a `SqlConnection`."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        return await self._connection.execute(statement, parameters)

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        return self._connection.begin_nested()

    async def commit(self) -> None:
        await self._connection.commit()

    async def rollback(self) -> None:
        await self._connection.rollback()


class SyncAdapter:
    """A sync `Connection` used from the one thread that owns it; every call runs at once."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        return self._connection.execute(statement, parameters)

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
