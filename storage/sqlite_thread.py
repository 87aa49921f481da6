"""SQLite's writer: one thread with its own event loop and one sqlite3 connection.

Through aiosqlite every statement costs two or three thread hops; SQLite has a single writer
anyway. So the bot's transactions (a turn, a relay step, a timer) are handed whole to this
thread, where each statement is a direct call on the sqlite3 connection.

Group commit: work that arrives while the thread is busy is run together in one transaction,
each piece inside a savepoint of its own. A piece that fails (or does not commit) is rolled back
to its savepoint alone; the others commit together, and nobody's `run` returns before that
commit. So every piece keeps its all-or-nothing, durable-on-return meaning, while a busy bot
pays one BEGIN/COMMIT per batch instead of per turn.

Work submitted here must not touch the caller's event loop objects; it only talks to the
database and returns a value (or raises).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from storage.connection import SqlConnection, SyncAdapter

T = TypeVar("T")
Work = Callable[[SqlConnection], Awaitable[T]]
MAX_BATCH = 64


def sync_url(url: str) -> str:
    """`sqlite+aiosqlite:///x.db` → `sqlite+pysqlite:///x.db` (same file, plain driver)."""
    return make_url(url).set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)


class PieceAdapter(SyncAdapter):
    """The connection as one piece of a batch sees it: `commit` keeps its savepoint."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self.committed = False

    async def commit(self) -> None:
        self.committed = True

    async def rollback(self) -> None:
        self.committed = False


@dataclass(slots=True)
class Piece(Generic[T]):
    work: Work[T]
    future: Future[T]


class SQLiteThread:
    def __init__(self, url: str, configure: Callable[[Engine], None]) -> None:
        self._engine = create_engine(
            sync_url(url),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        configure(self._engine)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None
        self._pending: list[Piece[Any]] = []
        self._draining = False

    async def run(self, work: Work[T]) -> T:
        """Run `work` in a transaction on the database thread; kept only if it commits."""
        loop = self._started()
        future: Future[T] = Future()
        loop.call_soon_threadsafe(self._enqueue, Piece(work, future))
        return await asyncio.wrap_future(future)

    # --- on the database thread ------------------------------------------------------------

    def _enqueue(self, piece: Piece[Any]) -> None:
        self._pending.append(piece)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._run_batch(batch)
        finally:
            self._draining = False

    async def _run_batch(self, batch: list[Piece[Any]]) -> None:
        try:
            outcomes = await self._transaction(self._connect(), batch)
        except BaseException as failure:  # no connection, BEGIN or COMMIT failed: none is durable
            self._rollback_quietly()
            for piece in batch:
                _settle(piece.future, error=failure)
            return
        for piece, (value, error) in zip(batch, outcomes, strict=True):
            _settle(piece.future, value=value, error=error)

    async def _transaction(
        self, connection: Connection, batch: list[Piece[Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        connection.begin()
        alone = len(batch) == 1
        outcomes = [await _run_piece(connection, piece, alone=alone) for piece in batch]
        if alone and not outcomes[0][2]:
            connection.rollback()
        else:
            connection.commit()
        return [(value, error) for value, error, _kept in outcomes]

    def _rollback_quietly(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
        except Exception:  # the connection is broken: the next batch opens a new one
            connection.invalidate()
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self._engine.connect()
        return self._connection

    # --- lifecycle ---------------------------------------------------------------------------

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._serve, args=(loop,), name="sqlite-writer", daemon=True
            )
            self._thread.start()
            self._loop = loop
        return self._loop

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        self._abandon_the_rest(loop)
        if self._connection is not None:
            self._connection.close()
        loop.close()

    def _abandon_the_rest(self, loop: asyncio.AbstractEventLoop) -> None:
        """After the stop: work that never started is refused, not left waiting forever.

        A drain scheduled just before the stop would otherwise be destroyed while pending, and
        its callers' futures never settled."""
        unstarted = asyncio.all_tasks(loop)
        for task in unstarted:
            task.cancel()
        if unstarted:
            loop.run_until_complete(asyncio.gather(*unstarted, return_exceptions=True))
        closed = RuntimeError("the database was closed before this transaction could run")
        for piece in self._pending:
            _settle(piece.future, error=closed)
        self._pending.clear()

    def close(self) -> None:
        """Stop the thread (after the batch in hand) and close the connection."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop = None
        self._engine.dispose()


async def _run_piece(
    connection: Connection, piece: Piece[Any], *, alone: bool
) -> tuple[Any, BaseException | None, bool]:
    """Run one piece; returns (value, error, kept). Alone, it needs no savepoint."""
    if not piece.future.set_running_or_notify_cancel():  # its caller is gone already
        return None, None, False
    adapter = PieceAdapter(connection)
    if not alone:
        connection.exec_driver_sql(SAVEPOINT)
    try:
        value = await piece.work(adapter)
    except Exception as error:
        if not alone:
            _undo_piece(connection)
        return None, error, False
    if not alone:
        (_keep_piece if adapter.committed else _undo_piece)(connection)
    return value, None, adapter.committed


# The pieces of a batch run one after another, so one savepoint name serves them all. Spelled
# as SQL: SQLAlchemy's begin_nested compiles its SAVEPOINT clause anew for each piece (about
# 40 µs a piece, more than a simple statement of the turn costs).
SAVEPOINT = "SAVEPOINT piece"


def _keep_piece(connection: Connection) -> None:
    connection.exec_driver_sql("RELEASE SAVEPOINT piece")


def _undo_piece(connection: Connection) -> None:
    connection.exec_driver_sql("ROLLBACK TO SAVEPOINT piece")
    connection.exec_driver_sql("RELEASE SAVEPOINT piece")


def _settle(future: Future[Any], *, value: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # the caller gave up (cancelled); nothing to tell
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
