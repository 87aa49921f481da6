"""Engines for SQLite (embedded default, WAL) and PostgreSQL (asyncpg), and schema upgrades."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Dialect, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x746F7563685F6462  # the advisory lock key of schema upgrades ("touch_db")
WAL_SWITCH_PATIENCE = 30.0  # seconds, as the busy timeout
POOL_SIZE = 20  # PostgreSQL connections of one process, at most
PING_AFTER_IDLE_SECONDS = 1.0
CHECKED_IN = "touchpoint_checked_in"  # the pool entry's `info` key: when it was given back


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for the backend: SQLite gets WAL, a busy timeout, immediate writes."""
    if is_sqlite(url):
        _ensure_parent_folder(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        configure_sqlite(engine.sync_engine)
        return engine
    # The pool keeps every connection it opens (up to 20), instead of opening and closing
    # overflow connections in a burst: each is a server process forked and an SSL handshake.
    engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)
    ping_when_idle(engine.sync_engine)
    return engine


def ping_when_idle(engine: Engine, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection before handing it out when it sat idle for more than `after`
    seconds: a dead one (the server restarted, a firewall dropped it) is replaced by a new one
    and no transaction sees it. SQLAlchemy's `pool_pre_ping` checks every checkout, and on
    asyncpg its check is three round trips (BEGIN, an empty query, ROLLBACK), more than a
    turn's own statements; a connection given back a moment ago was working then, and a server
    restart takes longer than the default second."""
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect, after))


def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[CHECKED_IN] = time.monotonic()


def _ping_if_idle(
    dialect: Dialect,
    after: float,
    dbapi_connection: Any,
    record: ConnectionPoolEntry,
    _proxy: Any,
) -> None:
    checked_in = record.info.get(CHECKED_IN)
    if checked_in is None or time.monotonic() - checked_in <= after:
        return  # new, or given back a moment ago
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        # The pool drops this connection and checks out another (a new one if need be).
        raise DisconnectionError(f"a pooled connection failed its check: {error}") from error


def create_reader(url: str) -> AsyncEngine:
    """SQLite: an engine for reads only, its transactions deferred, so a long read (the
    console's report over a year) runs beside the writer in WAL mode instead of holding the
    write lock that BEGIN IMMEDIATE takes."""
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "connect", _no_implicit_begin)
    event.listen(engine.sync_engine, "connect", _query_only)
    event.listen(engine.sync_engine, "begin", _begin_deferred)
    return engine


def _query_only(dbapi_connection: Any, _record: Any) -> None:
    # A reader that tried to write would need the lock it was made to avoid: refuse instead.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _begin_deferred(connection: Connection) -> None:
    # The snapshot starts at the first read and no lock is taken: the writer goes on.
    connection.exec_driver_sql("BEGIN")


def configure_sqlite(engine: Engine) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "connect", _no_implicit_begin)
    event.listen(engine, "begin", _begin_immediately)


def _ensure_parent_folder(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the CLI) run beside the bot's one writer; NORMAL sync is still safe
    # against a killed process (only a power loss can drop the last commits).
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Processes opening a new database file together (several instances, shells) all switch
    it to WAL. A connection that finds the file not yet switched must upgrade its read lock to
    make the switch, and SQLite refuses that at once, without the busy timeout, while another
    holds a write lock (waiting could deadlock). The switch is stored in the file, so once one
    has made it the others' is a no-op: they retry for a moment. Only a file being created
    meets this, at start-up, so the short sleeps (which hold the connecting thread) are paid
    once at most."""
    deadline = time.monotonic() + WAL_SWITCH_PATIENCE
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite would BEGIN lazily (DEFERRED) on its own; `_begin_immediately` does it instead.
    dbapi_connection.isolation_level = None


def _begin_immediately(connection: Connection) -> None:
    # Take the write lock up front, so a read-then-write transaction never fails on a lock
    # upgrade when another connection (the CLI, a second process) writes meanwhile.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (idempotent; run at every start-up), or to
    `revision`."""
    await _migrate(engine, partial(command.upgrade, revision=revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to `revision` (for tests of the migrations and for repairs)."""
    await _migrate(engine, partial(command.downgrade, revision=revision))


async def _migrate(engine: AsyncEngine, step: Callable[[Config], None]) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_migrate_sync, step)


def _migrate_sync(sync_connection: Connection, step: Callable[[Config], None]) -> None:
    config = alembic_config(str(sync_connection.engine.url))
    config.attributes["connection"] = sync_connection
    with _foreign_keys_checked_at_the_end(sync_connection), sync_connection.begin():
        _one_migrator_at_a_time(sync_connection)
        before = _revisions(sync_connection)
        step(config)
        if _revisions(sync_connection) != before:  # not at every start-up: it reads every row
            _check_foreign_keys(sync_connection)


def _one_migrator_at_a_time(connection: Connection) -> None:
    """PostgreSQL: processes starting together (two shells, several instances) migrate one
    after the other; the later ones then find the schema current. Two at once both created
    `alembic_version` and one failed. On SQLite, BEGIN IMMEDIATE orders them already."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


def _revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


@contextmanager
def _foreign_keys_checked_at_the_end(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys are not enforced while migrations run, and checked once after.

    SQLite alters most things by rebuilding a table: copy it, drop the original, rename the
    copy. With foreign keys enforced, dropping a table that other rows refer to (reps owned
    contacts and hand-offs) fails. The switch works only outside a transaction, so it is turned
    around the migrations' transaction; SQLite's documented procedure for altering tables.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    _pragma_outside_transaction(connection, "PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        _pragma_outside_transaction(connection, "PRAGMA foreign_keys=ON")


def _pragma_outside_transaction(connection: Connection, statement: str) -> None:
    # On the driver's connection: through SQLAlchemy the statement would begin a transaction.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL enforced them all along
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise RuntimeError(f"the migration left rows that refer to no row: {dangling[:5]}")


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest migration (read only: nothing is changed)."""
    async with engine.connect() as connection:
        return bool(await connection.run_sync(_is_current_sync))


def _is_current_sync(sync_connection: Any) -> bool:
    heads = ScriptDirectory.from_config(alembic_config(str(sync_connection.engine.url))).get_heads()
    current = MigrationContext.configure(sync_connection).get_current_heads()
    return set(current) == set(heads)


def run_upgrade(url: str) -> None:
    """Synchronous entry for the CLI's `db upgrade`."""

    async def _run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_run())
