"""SQL helpers: statements that differ between SQLite and PostgreSQL, built once.

Building a SQLAlchemy construct costs far more than running a small statement on SQLite, so
statements of the hot paths are module constants with bound parameters, not built per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite

from storage.connection import SqlConnection


class PerDialect:
    """One statement in a PostgreSQL and a SQLite spelling; `on(connection)` picks one."""

    def __init__(self, postgresql_form: Executable, sqlite_form: Executable) -> None:
        self._forms = {"postgresql": postgresql_form, "sqlite": sqlite_form}

    def on(self, connection: SqlConnection) -> Executable:
        return self._forms[connection.dialect.name]


def insert_ignore(
    table: Table, keys: Sequence[str], returning: Sequence[ColumnElement[object]] = ()
) -> PerDialect:
    """`INSERT ... ON CONFLICT (keys) DO NOTHING [RETURNING ...]`."""
    forms = []
    for module in (postgresql, sqlite):
        statement = module.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        forms.append(statement.returning(*returning) if returning else statement)
    return PerDialect(*forms)


def upsert(table: Table, keys: Sequence[str], changing: Sequence[str]) -> PerDialect:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET changing = excluded.changing`."""
    forms = []
    for module in (postgresql, sqlite):
        statement = module.insert(table)
        updates = {name: statement.excluded[name] for name in changing}
        forms.append(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))
    return PerDialect(*forms)


def in_key_order(keys: Sequence[str], found: Mapping[str, int]) -> list[int]:
    """The distinct values found for `keys`, in the order of the keys that found them."""
    ordered: list[int] = []
    for key in keys:
        if key in found and found[key] not in ordered:
            ordered.append(found[key])
    return ordered
