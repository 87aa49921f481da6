"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_ignore(
    connection: AsyncConnection, table: Table, keys: list[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (keys) DO NOTHING` in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


def upsert(
    connection: AsyncConnection,
    table: Table,
    *,
    keys: list[str],
    values: dict[str, object],
    changing: list[str],
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET changing` in the connection's dialect."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement: postgresql.Insert | sqlite.Insert = module.insert(table).values(values)
    updates = {name: statement.excluded[name] for name in changing}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)
