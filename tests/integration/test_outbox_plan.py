"""The relay's lease stays cheap when PostgreSQL's statistics are stale.

An idle outbox holds almost no unsent rows, and its statistics say so; a burst then queues
thousands. Planned from those statistics, the lease once checked "no older unsent row of the
conversation" by reading every unsent row for each candidate (20–200 ms a lease), and a burst
of replies crawled exactly when it mattered. The plan is read here from EXPLAIN ANALYZE: rows,
not time, so the test does not depend on the machine's speed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.repos.outbox import NewOutbound, _claim_batch
from storage.tables import outbox
from storage.uow import Database
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


async def rows_read_by_a_lease(connection: AsyncConnection) -> int:
    """Rows every node of the lease's plan produced, loops included, in a transaction undone."""
    statement = _claim_batch(outbox.c.channel == bindparam("channel"), with_recipients=True)
    compiled = statement.compile(dialect=connection.dialect)
    values = {
        "now": NOW,
        "channel": "console",
        "limit": 1,
        "lease_until": NOW + timedelta(minutes=1),
        "token": "relay:1",
    }
    bound = compiled.construct_params(values)
    arguments = [bound[name] for name in compiled.positiontup or ()]
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    undone = driver.transaction()  # EXPLAIN ANALYZE runs the update: leave nothing leased
    await undone.start()
    try:
        explained = await driver.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, *arguments
        )
    finally:
        await undone.rollback()
    document = json.loads(explained) if isinstance(explained, str) else explained
    plan = document[0]["Plan"]
    return _rows(plan)


def _rows(node: dict[str, Any]) -> int:
    own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
    removed = int(node.get("Rows Removed by Filter", 0)) + int(
        node.get("Rows Removed by Join Filter", 0)
    )
    return own + removed + sum(_rows(child) for child in node.get("Plans", []))


@pytest.mark.parametrize("database", ["postgres"], indirect=True)  # its planner's question
async def test_a_burst_after_an_idle_outbox_is_leased_without_reading_every_unsent_row(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        conversations = [await new_conversation(uow, NOW, f"c{n}") for n in range(CONVERSATIONS)]
        await uow.commit()
    ids = [conversation.id for conversation in conversations]
    # An outbox that has worked for a while: everything sent, and the statistics say so.
    await queue_replies(database, ids, 5)
    async with database.transaction() as uow:
        await uow.connection.execute(update(outbox).values(status="sent"))
        await uow.commit()
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE outbox"))
    # Then the burst, which no statistics have seen yet.
    await queue_replies(database, ids, REPLIES_EACH)

    async with database.engine.connect() as connection:
        read = await rows_read_by_a_lease(connection)

    assert read < 100, f"one lease read {read} rows of 1,000 unsent"
