"""Hand-offs from the bot to a human rep."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, update

from storage.connection import SqlConnection
from storage.records import Handoff
from storage.tables import handoffs

ACTIVE_STATUSES = ("queued", "offered", "claimed")


def handoff_from_row(row: Row[Any]) -> Handoff:
    return Handoff(
        id=row.id,
        conversation_id=row.conversation_id,
        contact_id=row.contact_id,
        rep_id=row.rep_id,
        reason=row.reason,
        status=row.status,
        summary=row.summary,
        requested_at=row.requested_at,
        claimed_at=row.claimed_at,
        closed_at=row.closed_at,
    )


class HandoffRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def open(self, conversation_id: int, contact_id: int, reason: str, now: datetime) -> int:
        statement = handoffs.insert().values(
            conversation_id=conversation_id,
            contact_id=contact_id,
            reason=reason,
            status="queued",
            requested_at=now,
        )
        return int((await self._db.execute(statement.returning(handoffs.c.id))).scalar_one())

    async def active_for(self, conversation_id: int) -> Handoff | None:
        query = (
            handoffs.select()
            .where(
                handoffs.c.conversation_id == conversation_id,
                handoffs.c.status.in_(ACTIVE_STATUSES),
            )
            .order_by(handoffs.c.id.desc())
        )
        row = (await self._db.execute(query)).first()
        return handoff_from_row(row) if row else None

    async def get(self, handoff_id: int) -> Handoff | None:
        row = (await self._db.execute(handoffs.select().where(handoffs.c.id == handoff_id))).first()
        return handoff_from_row(row) if row else None

    async def search(self, *, active_only: bool = False, limit: int = 200) -> list[Handoff]:
        query = handoffs.select()
        if active_only:
            query = query.where(handoffs.c.status.in_(ACTIVE_STATUSES))
        rows = await self._db.execute(query.order_by(handoffs.c.id.desc()).limit(limit))
        return [handoff_from_row(row) for row in rows]

    async def finish(
        self, handoff_id: int, status: str, summary: str | None, now: datetime
    ) -> bool:
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(ACTIVE_STATUSES))
            .values(status=status, summary=summary, closed_at=now)
        )
        return (await self._db.execute(statement)).rowcount == 1
