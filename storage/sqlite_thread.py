"""SQLite's writer: one thread and one sqlite3 connection.

Through aiosqlite every statement costs two or three thread hops; SQLite has a single writer
anyway. So the bot's transactions (a turn, a relay step, a timer) are handed whole to this
thread, where each statement is a direct call on the sqlite3 connection.

Group commit: work that arrives while the thread is busy is run together in one transaction,
each piece inside a savepoint of its own. A piece that fails (or does not commit) is rolled back
to its savepoint alone; the others commit together, and nobody's `run` returns before that
commit. So every piece keeps its all-or-nothing, durable-on-return meaning, while a busy bot
pays one BEGIN/COMMIT per batch instead of per turn.

The thread has no event loop. A piece is a coroutine function, but every await in it ends at
once (each statement is a direct call), so the thread runs it to its end in one step; a piece
that would wait on something else is refused with an error. Pieces wait in a queue, and each
answer goes back to its caller's loop as one callback: a hop costs a queue put and a wake-up
each way, not the tasks, futures and self-pipe writes of a second event loop.

Work submitted here must not touch the caller's event loop objects; it only talks to the
database and returns a value (or raises).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
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


class WaitedOnTheWriter(RuntimeError):
    """A piece awaited something other than its own statements (a sleep, a lock, I/O)."""


@dataclass(slots=True)
class Piece(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]  # of the caller's loop: settled there, never on this thread
    loop: asyncio.AbstractEventLoop
    context: contextvars.Context  # the caller's (its log fields), for the work to run in


_STOP = None  # queued by `close`: the thread ends after the pieces queued before it


class SQLiteThread:
    def __init__(self, url: str, configure: Callable[[Engine], None]) -> None:
        self._engine = create_engine(
            sync_url(url),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        configure(self._engine)
        self._queue: queue.SimpleQueue[Piece[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None

    async def run(self, work: Work[T]) -> T:
        """Run `work` in a transaction on the database thread; kept only if it commits."""
        self._started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(Piece(work, future, loop, contextvars.copy_context()))
        return await future

    # --- on the database thread ------------------------------------------------------------

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run_batch(batch)
        if self._connection is not None:
            self._connection.close()

    def _next_batch(self) -> list[Piece[Any]] | None:
        """The next piece (waiting for it) and those queued behind it; None once stopped."""
        first = self._queue.get()
        if first is _STOP:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                piece = self._queue.get_nowait()
            except queue.Empty:
                break
            if piece is _STOP:  # run what came before it, then stop
                self._queue.put(_STOP)
                break
            batch.append(piece)
        return batch

    def _run_batch(self, batch: list[Piece[Any]]) -> None:
        try:
            outcomes = self._transaction(self._connect(), batch)
        except BaseException as failure:  # no connection, BEGIN or COMMIT failed: none is durable
            self._rollback_quietly()
            _answer_all([(piece, None, failure) for piece in batch])
            return
        _answer_all(
            [(piece, value, error) for piece, (value, error) in zip(batch, outcomes, strict=True)]
        )

    def _transaction(
        self, connection: Connection, batch: list[Piece[Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        connection.begin()
        alone = len(batch) == 1
        outcomes = [_run_piece(connection, piece, alone=alone) for piece in batch]
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

    def _started(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread (after the pieces already queued) and close the connection."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)
        self._refuse_the_rest()
        self._engine.dispose()

    def _refuse_the_rest(self) -> None:
        """Work queued after the stop is refused, not left waiting forever."""
        closed = RuntimeError("the database was closed before this transaction could run")
        refused: list[Answer] = []
        while True:
            try:
                piece = self._queue.get_nowait()
            except queue.Empty:
                break
            if piece is not _STOP:
                refused.append((piece, None, closed))
        _answer_all(refused)


def _run_piece(
    connection: Connection, piece: Piece[Any], *, alone: bool
) -> tuple[Any, BaseException | None, bool]:
    """Run one piece; returns (value, error, kept). Alone, it needs no savepoint."""
    if piece.future.cancelled():  # its caller is gone already
        return None, None, False
    adapter = PieceAdapter(connection)
    if not alone:
        connection.exec_driver_sql(SAVEPOINT)
    try:
        value = piece.context.run(_to_the_end, piece.work(adapter))
    except Exception as error:
        if not alone:
            _undo_piece(connection)
        return None, error, False
    if not alone:
        (_keep_piece if adapter.committed else _undo_piece)(connection)
    return value, None, adapter.committed


def _to_the_end(work: Awaitable[T]) -> T:
    """Run a piece's coroutine in one step: each of its awaits is a statement, done at once."""
    coroutine: Coroutine[Any, Any, T] = work  # type: ignore[assignment]
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise WaitedOnTheWriter("a transaction on SQLite's writer thread waited on something else")


# The pieces of a batch run one after another, so one savepoint name serves them all. Spelled
# as SQL: SQLAlchemy's begin_nested compiles its SAVEPOINT clause anew for each piece (about
# 40 µs a piece, more than a simple statement of the turn costs).
SAVEPOINT = "SAVEPOINT piece"


def _keep_piece(connection: Connection) -> None:
    connection.exec_driver_sql("RELEASE SAVEPOINT piece")


def _undo_piece(connection: Connection) -> None:
    connection.exec_driver_sql("ROLLBACK TO SAVEPOINT piece")
    connection.exec_driver_sql("RELEASE SAVEPOINT piece")


Answer = tuple[Piece[Any], Any, BaseException | None]  # a piece, its value, its error
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


def _answer_all(answers: Sequence[Answer]) -> None:
    """Hand the outcomes to their callers' loops, one wake-up per loop for the whole batch (each
    `call_soon_threadsafe` writes to the loop's wake-up pipe; a loop already closed has nobody to
    tell)."""
    per_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for piece, value, error in answers:
        per_loop.setdefault(piece.loop, []).append((piece.future, value, error))
    for loop, outcomes in per_loop.items():
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_all, outcomes)


def _settle_all(outcomes: list[Outcome]) -> None:
    for future, value, error in outcomes:
        if future.done():  # the caller gave up (cancelled); nothing to tell
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
