"""Writes held back until a transaction's next statement, then sent as one (PostgreSQL).

A turn ends with writes nobody reads back in it: its touchpoints, its outbox rows, its
conversation's new state. On PostgreSQL each statement is a round trip, so these wait (see
`SqlConnection.defer`) and go together, each a data-modifying `WITH` of one statement that
returns how many rows each changed:

    WITH write_0_0 AS (UPDATE conversations SET ... WHERE ... RETURNING 1),
         write_1_0 AS (INSERT INTO outbox (...) VALUES (...) RETURNING 1),
         write_2_0 AS (INSERT INTO touchpoints (...) VALUES (...) RETURNING 1),
         write_2_1 AS (INSERT INTO touchpoints (...) VALUES (...) RETURNING 1)
    SELECT (SELECT count(*) FROM write_0_0), (SELECT count(*) FROM write_1_0),
           (SELECT count(*) FROM write_2_0) + (SELECT count(*) FROM write_2_1)

The parts of one statement run on one snapshot and none sees another's rows, so two writes
that touch the same table, one of them not an insert, never share a statement: the first goes
before the second is held (PostgreSQL would otherwise apply one of two updates of a row and
drop the other). Each row of an insert is a part of its own (SQLAlchemy compiles a multi-row
VALUES anew every time; a statement of single-row parts it keeps compiled); an update takes its
new values by column name, and its other parameters (its WHERE's) by their own names, which
must not collide with another held write's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CursorResult,
    Executable,
    Insert,
    Update,
    bindparam,
    func,
    literal_column,
    select,
)

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Rows = CursorResult[*tuple[Any, ...]]
Writing = Insert | Update
Check = Callable[[int], None]  # given the rows a write changed; raises when that is wrong
Execute = Callable[[Executable, Parameters], Awaitable[Rows]]

# An insert of more rows is sent on its own as an executemany: a statement's bind parameters
# are limited (32,767 with asyncpg), and a turn writes a handful.
MAX_HELD_ROWS = 20
# Building a merged statement costs more than its round trip saves (~170 µs): each shape (which
# statements, which columns, how many rows) is built once, and SQLAlchemy keeps it compiled.
MAX_SHAPES = 512
_MERGED: dict[Hashable, Executable] = {}


@dataclass(frozen=True, slots=True)
class HeldWrite:
    statement: Writing
    parameters: Parameters
    check: Check | None

    @property
    def rows(self) -> list[Mapping[str, Any]]:
        if self.parameters is None:
            return []
        if isinstance(self.parameters, Mapping):
            return [self.parameters]
        return list(self.parameters)

    def is_value(self, name: str) -> bool:
        """Whether a parameter is a column's new value: all of an insert's are (an unknown
        column fails, as it would alone), an update's other ones are its WHERE's."""
        return isinstance(self.statement, Insert) or name in self.statement.table.c

    @property
    def where_names(self) -> set[str]:
        return {name for row in self.rows for name in row if not self.is_value(name)}

    def clashes_with(self, other: HeldWrite) -> bool:
        """Whether the two cannot be parts of one statement."""
        same_table = self.statement.table is other.statement.table
        both_inserts = isinstance(self.statement, Insert) and isinstance(other.statement, Insert)
        return (same_table and not both_inserts) or bool(self.where_names & other.where_names)

    def shape(self) -> Hashable:
        """What the merged statement's text depends on: the statement and its rows' names."""
        return (self.statement, tuple(tuple(row) for row in self.rows))

    def parts(self, number: int) -> list[CTE]:
        """The write as parts of a WITH, one per row, each with parameters of its own."""
        table = self.statement.table
        parts = []
        for index, row in enumerate(self.rows):
            prefix = f"w{number}_{index}_"
            values = {
                name: bindparam(prefix + name, type_=table.c[name].type)
                for name in row
                if self.is_value(name)
            }
            statement = self.statement.values(values) if values else self.statement
            returning: Writing = statement.returning(literal_column("1"))
            parts.append(returning.cte(f"write_{number}_{index}"))
        return parts

    def parameters_of(self, number: int) -> dict[str, Any]:
        """The values for `parts(number)`, by their names (an update's WHERE's as they are)."""
        named: dict[str, Any] = {}
        for index, row in enumerate(self.rows):
            prefix = f"w{number}_{index}_"
            for name, value in row.items():
                named[prefix + name if self.is_value(name) else name] = value
        return named


class WriteBehind:
    """The writes of one transaction held until its next statement, savepoint or commit."""

    def __init__(self, execute: Execute) -> None:
        self._execute = execute
        self._held: list[HeldWrite] = []

    async def add(self, statement: Writing, parameters: Parameters, check: Check | None) -> None:
        write = HeldWrite(statement, parameters, check)
        if any(write.clashes_with(held) for held in self._held):
            await self.flush()
        if not _mergeable(write):
            await self.flush()
            await _run_alone(self._execute, write)
            return
        self._held.append(write)

    async def flush(self) -> None:
        """Send what is held: alone when one write is, else as one statement."""
        held, self._held = self._held, []
        if len(held) == 1:
            await _run_alone(self._execute, held[0])
        elif held:
            statement, parameters = merged(held)
            counts = (await self._execute(statement, parameters)).one()
            for write, count in zip(held, counts, strict=True):
                if write.check is not None:
                    write.check(count)

    def discard(self) -> None:
        """Forget what is held: the transaction (or its savepoint) was rolled back."""
        self._held.clear()


def merged(writes: Sequence[HeldWrite]) -> tuple[Executable, dict[str, Any]]:
    """One statement running every write; its row says how many rows each changed."""
    shape = tuple(write.shape() for write in writes)
    statement = _MERGED.get(shape)
    if statement is None:
        statement = _merged_statement(writes)
        if len(_MERGED) >= MAX_SHAPES:
            _MERGED.clear()
        _MERGED[shape] = statement
    parameters: dict[str, Any] = {}
    for number, write in enumerate(writes):
        parameters.update(write.parameters_of(number))
    return statement, parameters


def _merged_statement(writes: Sequence[HeldWrite]) -> Executable:
    counts: list[ColumnElement[int]] = []
    for number, write in enumerate(writes):
        parts = [select(func.count()).select_from(part) for part in write.parts(number)]
        counts.append(_sum_of(part.scalar_subquery() for part in parts))
    return select(*counts)


def _sum_of(terms: Iterable[ColumnElement[int]]) -> ColumnElement[int]:
    total, *rest = terms
    for term in rest:
        total = total + term
    return total


def _mergeable(write: HeldWrite) -> bool:
    if isinstance(write.statement, Insert):
        return 0 < len(write.rows) <= MAX_HELD_ROWS
    return len(write.rows) == 1


async def _run_alone(execute: Execute, write: HeldWrite) -> None:
    rows = await execute(write.statement, write.parameters)
    if write.check is not None:
        write.check(rows.rowcount)
