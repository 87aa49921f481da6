"""Durable timers: a follow-up fires once, even across restarts and several instances."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select, update

from bot.records import FollowUp
from storage.connection import SqlConnection
from storage.tables import followups


def followup_from_row(row: Row[Any]) -> FollowUp:
    return FollowUp(
        id=row.id,
        kind=row.kind,
        due_at=row.due_at,
        conversation_id=row.conversation_id,
        ticket_id=row.ticket_id,
        handoff_id=row.handoff_id,
        payload=dict(row.payload or {}),
        attempts=row.attempts,
    )


class FollowUpRepository:
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
        statement = followups.insert().values(
            kind=kind,
            due_at=due_at,
            conversation_id=conversation_id,
            ticket_id=ticket_id,
            handoff_id=handoff_id,
            payload=payload or {},
            created_at=now,
        )
        return int((await self._db.execute(statement.returning(followups.c.id))).scalar_one())

    async def due(self, now: datetime, limit: int = 20) -> list[int]:
        query = (
            select(followups.c.id)
            .where(
                followups.c.status == "pending",
                followups.c.due_at <= now,
                or_(followups.c.locked_until.is_(None), followups.c.locked_until < now),
            )
            .order_by(followups.c.due_at)
            .limit(limit)
        )
        return [int(value) for value in (await self._db.execute(query)).scalars()]

    async def take(self, followup_id: int, now: datetime) -> FollowUp | None:
        """Mark the timer fired and return it, or None when it already fired or was cancelled.

        The conditional update is what makes a timer fire once: two instances racing for the
        same row see exactly one success.
        """
        statement = (
            update(followups)
            .where(followups.c.id == followup_id, followups.c.status == "pending")
            .values(status="fired", fired_at=now)
            .returning(*followups.c)
        )
        row = (await self._db.execute(statement)).first()
        return followup_from_row(row) if row else None

    async def defer(self, followup_id: int, until: datetime, *, give_up: bool) -> None:
        """After a failed firing: try again later, or stop for good."""
        statement = (
            update(followups)
            .where(followups.c.id == followup_id)
            .values(
                attempts=followups.c.attempts + 1,
                locked_until=until,
                status="failed" if give_up else "pending",
            )
        )
        await self._db.execute(statement)

    async def cancel(
        self, *, ticket_id: int | None = None, conversation_id: int | None = None
    ) -> int:
        statement = update(followups).where(followups.c.status == "pending")
        if ticket_id is not None:
            statement = statement.where(followups.c.ticket_id == ticket_id)
        if conversation_id is not None:
            statement = statement.where(followups.c.conversation_id == conversation_id)
        return (await self._db.execute(statement.values(status="cancelled"))).rowcount

    async def attempts_of(self, followup_id: int) -> int:
        query = select(followups.c.attempts).where(followups.c.id == followup_id)
        return int((await self._db.execute(query)).scalar_one_or_none() or 0)

    async def conversation_of(self, followup_id: int) -> int | None:
        query = select(followups.c.conversation_id).where(followups.c.id == followup_id)
        return (await self._db.execute(query)).scalar_one_or_none()

    async def pending(self, limit: int = 200) -> list[FollowUp]:
        query = (
            followups.select()
            .where(followups.c.status == "pending")
            .order_by(followups.c.due_at)
            .limit(limit)
        )
        return [followup_from_row(row) for row in await self._db.execute(query)]


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2**attempts, 3600))
