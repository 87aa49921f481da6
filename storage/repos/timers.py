"""Durable timers: a follow-up fires once, even across restarts and several instances."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select, update

from bot.records import Timer
from storage.connection import SqlConnection
from storage.tables import timers


def followup_from_row(row: Row[Any]) -> Timer:
    return Timer(
        id=row.id,
        kind=row.kind,
        due_at=row.due_at,
        conversation_id=row.conversation_id,
        ticket_id=row.ticket_id,
        handoff_id=row.handoff_id,
        payload=dict(row.payload or {}),
        attempts=row.attempts,
    )


class TimerRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def schedule(
        self,
        kind: str,
        due_at: datetime,
        now: datetime,
        *,
        conversation_id: int | None = None,
        ticket_id: int | None = None,
        handoff_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        statement = timers.insert().values(
            kind=kind,
            due_at=due_at,
            conversation_id=conversation_id,
            ticket_id=ticket_id,
            handoff_id=handoff_id,
            payload=payload or {},
            created_at=now,
        )
        return int((await self._db.execute(statement.returning(timers.c.id))).scalar_one())

    async def due(self, now: datetime, limit: int = 20) -> list[int]:
        query = (
            select(timers.c.id)
            .where(
                timers.c.status == "pending",
                timers.c.due_at <= now,
                or_(timers.c.locked_until.is_(None), timers.c.locked_until < now),
            )
            .order_by(timers.c.due_at)
            .limit(limit)
        )
        return [int(value) for value in (await self._db.execute(query)).scalars()]

    async def take(self, timer_id: int, now: datetime) -> Timer | None:
        """Mark the timer fired and return it, or None when it already fired or was cancelled.

        The conditional update is what makes a timer fire once: two instances racing for the
        same row see exactly one success.
        """
        statement = (
            update(timers)
            .where(timers.c.id == timer_id, timers.c.status == "pending")
            .values(status="fired", fired_at=now)
            .returning(*timers.c)
        )
        row = (await self._db.execute(statement)).first()
        return followup_from_row(row) if row else None

    async def defer(self, timer_id: int, until: datetime, *, give_up: bool) -> None:
        """After a failed firing: try again later, or stop for good."""
        statement = (
            update(timers)
            .where(timers.c.id == timer_id)
            .values(
                attempts=timers.c.attempts + 1,
                locked_until=until,
                status="failed" if give_up else "pending",
            )
        )
        await self._db.execute(statement)

    async def cancel(
        self, *, ticket_id: int | None = None, conversation_id: int | None = None
    ) -> int:
        statement = update(timers).where(timers.c.status == "pending")
        if ticket_id is not None:
            statement = statement.where(timers.c.ticket_id == ticket_id)
        if conversation_id is not None:
            statement = statement.where(timers.c.conversation_id == conversation_id)
        return (await self._db.execute(statement.values(status="cancelled"))).rowcount

    async def has_pending(self, kind: str, *, handoff_id: int) -> bool:
        query = select(timers.c.id).where(
            timers.c.kind == kind, timers.c.status == "pending", timers.c.handoff_id == handoff_id
        )
        return (await self._db.execute(query.limit(1))).first() is not None

    async def attempts_of(self, timer_id: int) -> int:
        query = select(timers.c.attempts).where(timers.c.id == timer_id)
        return int((await self._db.execute(query)).scalar_one_or_none() or 0)

    async def conversation_of(self, timer_id: int) -> int | None:
        query = select(timers.c.conversation_id).where(timers.c.id == timer_id)
        return (await self._db.execute(query)).scalar_one_or_none()

    async def pending(self, limit: int = 200) -> list[Timer]:
        query = (
            timers.select()
            .where(timers.c.status == "pending")
            .order_by(timers.c.due_at)
            .limit(limit)
        )
        return [followup_from_row(row) for row in await self._db.execute(query)]
