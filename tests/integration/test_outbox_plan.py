"""The relay's lease stays cheap when PostgreSQL's statistics are stale.

An idle outbox holds almost no unsent rows, and its statistics say so (or a new one has none);
a burst then queues thousands. Planned from those statistics, the lease once checked "no older
unsent row of the conversation" by reading every unsent row for each candidate (20–200 ms a
lease), and later read every unsent row once to sort them by id (3 ms a lease with 2,000
waiting): a burst of replies crawled exactly when it mattered. The plan is read here from
EXPLAIN ANALYZE of the lease as the relay runs it, in its transaction's settings: rows, not
time, so the test does not depend on the machine's speed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text, update

from storage.connection import AsyncAdapter
from storage.repos.outbox import NewOutbound
from storage.tables import outbox
from storage.uow import Database, UnitOfWork
from tests.integration.helpers import new_conversation

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CONVERSATIONS = 40
REPLIES_EACH = 25  # 1,000 unsent rows in all


async def queue_replies(database: Database, conversation_ids: list[int], each: int) -> None:
    async with database.transaction() as uow:
        rows = [
            NewOutbound(channel="console", address=f"c{cid}", text="hi", conversation_id=cid)
            for _ in range(each)
            for cid in conversation_ids
        ]
        for start in range(0, len(rows), 200):
            await uow.outbox.enqueue(rows[start : start + 200], NOW)
        await uow.commit()


async def rows_read_by_a_lease(database: Database) -> int:
    """Rows every node of the lease's plan produced, loops included: the relay's own lease
    (`claim_batch`) is run, its statement caught on the way to the server and explained right
    after it in the same transaction (so in the settings the lease ran in), which is undone."""
    caught: list[tuple[str, Any]] = []

    def catch(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if "RETURNING" in statement and statement.lstrip().startswith("WITH"):
            caught.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        async with database.engine.connect() as connection:  # not committed: undone
            await connection.begin()
            uow = UnitOfWork(AsyncAdapter(connection))
            leased = await uow.outbox.claim_batch(
                NOW, timedelta(minutes=1), ["console"], "relay:1", limit=1
            )
            assert len(leased) == 1 and len(caught) == 1
            [(statement, parameters)] = caught
            driver: Any = (await connection.get_raw_connection()).driver_connection
            explained = await driver.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *parameters
            )
            await connection.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    document = json.loads(explained) if isinstance(explained, str) else explained
    return _rows(document[0]["Plan"])


def _rows(node: dict[str, Any]) -> int:
    own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
    removed = int(node.get("Rows Removed by Filter", 0)) + int(
        node.get("Rows Removed by Join Filter", 0)
    )
    return own + removed + sum(_rows(child) for child in node.get("Plans", []))


@pytest.mark.parametrize("database", ["postgres"], indirect=True)  # its planner's question
@pytest.mark.parametrize("maintenance", ["ANALYZE outbox", "VACUUM outbox", None])
async def test_a_burst_after_an_idle_outbox_is_leased_without_reading_every_unsent_row(
    database: Database, maintenance: str | None
) -> None:
    """The statistics as autovacuum leaves them after a quiet spell: analyzed, or only vacuumed
    (its page and row counts say the table is small), or none yet."""
    async with database.transaction() as uow:
        conversations = [await new_conversation(uow, NOW, f"c{n}") for n in range(CONVERSATIONS)]
        await uow.commit()
    ids = [conversation.id for conversation in conversations]
    # The statistics are the test's to set: autovacuum would refresh them at moments of its own.
    await outside_a_transaction(database, "ALTER TABLE outbox SET (autovacuum_enabled = off)")
    await queue_replies(database, ids, 5)  # an outbox that has worked for a while
    await mark_all_sent(database)
    if maintenance:
        await outside_a_transaction(database, maintenance)
    # Then the burst, which no statistics have seen yet.
    await queue_replies(database, ids, REPLIES_EACH)

    read = await rows_read_by_a_lease(database)

    assert read < 100, f"one lease read {read} rows of 1,000 unsent"


async def outside_a_transaction(database: Database, statement: str) -> None:
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(statement))


async def mark_all_sent(database: Database) -> None:
    async with database.transaction() as uow:
        await uow.connection.execute(update(outbox).values(status="sent"))
        await uow.commit()
