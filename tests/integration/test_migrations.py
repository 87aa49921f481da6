"""Migrations move the data, not only the schema: a database written by an older version is
upgraded with its rows where the code now looks for them, on both engines."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from storage.db import alembic_config
from storage.uow import Database
from tests.conftest import ENGINES, administer, require_postgres

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema at all, for migrating step by step."""
    if request.param == "sqlite":
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        yield database
        await database.dispose()
        return
    server = require_postgres().rsplit("/", 1)[0]
    name = f"touchpoint_migrations_{os.getpid()}"
    drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    await administer(server, drop, f"CREATE DATABASE {name}")
    database = Database.from_url(f"{server}/{name}")
    yield database
    await database.dispose()
    await administer(server, drop)


async def migrate_to(database: Database, revision: str) -> None:
    def upgrade(connection: Any) -> None:
        config = alembic_config(str(connection.engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(upgrade)


async def execute(database: Database, *statements: tuple[str, dict[str, Any]]) -> None:
    async with database.engine.begin() as connection:
        for statement, parameters in statements:
            await connection.execute(text(statement), parameters)


async def test_timers_and_outbox_message_ids_keep_their_rows(empty_database: Database) -> None:
    await migrate_to(empty_database, "0007")
    await execute(
        empty_database,
        (
            "INSERT INTO contacts (id, display_name, created_at) VALUES (1, 'Ann', :now)",
            {"now": NOW},
        ),
        (
            "INSERT INTO conversations (id, contact_id, channel, thread_key, address, data, "
            "created_at, updated_at) VALUES (1, 1, 'email', 't', 'ann@example.org', '{}', "
            ":now, :now)",
            {"now": NOW},
        ),
        (
            "INSERT INTO followups (kind, status, due_at, conversation_id, payload, created_at) "
            "VALUES ('followup', 'pending', :due, 1, '{}', :now)",
            {"due": NOW - timedelta(minutes=1), "now": NOW},
        ),
        (
            "INSERT INTO outbox (conversation_id, channel, address, text, options, "
            "message_id, \"references\", next_attempt_at, created_at) VALUES (1, 'email', "
            "'ann@example.org', 'hi', '[]', '<ours@shop.example>', '[]', :now, :now)",
            {"now": NOW},
        ),
    )

    await empty_database.upgrade()

    async with empty_database.transaction() as uow:
        [due] = await uow.timers.due(NOW)
        assert (await uow.timers.take(due, NOW)) is not None
        assert await uow.outbox.conversations_of_header_ids(["<ours@shop.example>"]) == [1]
    assert await empty_database.is_current()
