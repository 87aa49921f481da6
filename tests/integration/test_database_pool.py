"""PostgreSQL's pool: a connection that died while idle is replaced before anyone uses it.

A connection is checked (a ping) only when it sat in the pool for more than
`PING_AFTER_IDLE_SECONDS`; one given back a moment ago goes out as it is, which spares every
busy transaction the check's round trips. A backend is killed here as a server restart or a
dropped TCP connection would kill it.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from storage.db import PING_AFTER_IDLE_SECONDS, POOL_SIZE, ping_when_idle
from storage.uow import Database
from tests.waiting import eventually

BACKEND = text("SELECT pg_backend_pid()")
ALIVE = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")

pytestmark = pytest.mark.parametrize("database", ["postgres"], indirect=True)


async def backend_of_a_transaction(database: Database) -> int:
    async with database.transaction() as uow:
        pid = int((await uow.connection.execute(BACKEND)).scalar_one())
        await uow.commit()
    return pid


async def kill_backend(database: Database, pid: int) -> None:
    """Terminate `pid` from a connection of another engine, and wait until it is gone."""
    other = create_async_engine(database.engine.url, poolclass=NullPool)
    try:
        async with other.connect() as connection:
            # Each look its own transaction: one transaction sees one snapshot of the activity.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            terminate = text("SELECT pg_terminate_backend(:pid)")
            assert (await connection.execute(terminate, {"pid": pid})).scalar_one() is True

            async def gone() -> bool:
                return int((await connection.execute(ALIVE, {"pid": pid})).scalar_one()) == 0

            await eventually(gone, what=f"backend {pid} to exit")
    finally:
        await other.dispose()


async def test_a_connection_killed_while_idle_is_replaced_before_a_transaction_gets_it(
    database: Database,
) -> None:
    first = await backend_of_a_transaction(database)
    await kill_backend(database, first)
    await asyncio.sleep(PING_AFTER_IDLE_SECONDS + 0.2)

    second = await backend_of_a_transaction(database)

    assert second != first
    assert await backend_of_a_transaction(database) == second  # kept for the next one


async def test_a_connection_given_back_a_moment_ago_is_used_unchecked(
    database: Database,
) -> None:
    # "A moment" made a minute, so that killing the backend surely takes less.
    engine = create_async_engine(database.engine.url, pool_size=POOL_SIZE, max_overflow=0)
    ping_when_idle(engine.sync_engine, after=60.0)
    busy = Database(engine)
    try:
        first = await backend_of_a_transaction(busy)
        await kill_backend(busy, first)

        # Unchecked, it fails the one transaction that gets it (as a transaction fails whose
        # server goes away while it runs: its caller tries again), and the pool renews.
        with pytest.raises(DBAPIError) as failed:
            await backend_of_a_transaction(busy)
        assert failed.value.connection_invalidated
        assert await backend_of_a_transaction(busy) != first
    finally:
        await busy.dispose()
