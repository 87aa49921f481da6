"""The schema the migrations build is the one `storage/tables.py` declares, on both engines
(a column added to one and not the other fails here, not in production)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from storage.tables import metadata
from storage.uow import Database


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_the_migrations_build_the_schema_the_code_declares(database: Database) -> None:
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
