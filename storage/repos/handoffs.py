"""Hand-offs from the bot to a human rep."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update

from bot.records import Handoff
from storage.connection import SqlConnection
from storage.tables import handoffs

ACTIVE_STATUSES = ("queued", "offered", "claimed")
WAITING = ("queued", "offered")


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
        offered_at=row.offered_at,
        offered_to=tuple(row.offered_to or ()),
        first_answer_at=row.first_answer_at,
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

    async def active_of_contact(self, contact_id: int) -> list[Handoff]:
        """The contact's hand-offs still waiting or with a rep, newest first."""
        query = handoffs.select().where(
            handoffs.c.contact_id == contact_id, handoffs.c.status.in_(ACTIVE_STATUSES)
        )
        return [
            handoff_from_row(row)
            for row in await self._db.execute(query.order_by(handoffs.c.id.desc()))
        ]

    async def get(self, handoff_id: int) -> Handoff | None:
        row = (await self._db.execute(handoffs.select().where(handoffs.c.id == handoff_id))).first()
        return handoff_from_row(row) if row else None

    async def search(self, *, active_only: bool = False, limit: int = 200) -> list[Handoff]:
        query = handoffs.select()
        if active_only:
            query = query.where(handoffs.c.status.in_(ACTIVE_STATUSES))
        rows = await self._db.execute(query.order_by(handoffs.c.id.desc()).limit(limit))
        return [handoff_from_row(row) for row in rows]

    async def offer(self, handoff: Handoff, rep_id: int, now: datetime) -> bool:
        """Offer a waiting hand-off to a rep (who then has until the deadline to claim it)."""
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff.id, handoffs.c.status.in_(WAITING))
            .values(
                status="offered",
                rep_id=rep_id,
                offered_at=now,
                offered_to=[*handoff.offered_to, rep_id],
            )
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def claim(
        self, handoff_id: int, rep_id: int, now: datetime, *, offered_only: bool = True
    ) -> bool:
        """Take a waiting hand-off: exactly one rep wins a race (a conditional update). With
        `offered_only` (a rep, not a manager) only while it is offered to that very rep."""
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(WAITING))
            .values(status="claimed", rep_id=rep_id, claimed_at=now)
        )
        if offered_only:
            statement = statement.where(handoffs.c.status == "offered", handoffs.c.rep_id == rep_id)
        return (await self._db.execute(statement)).rowcount == 1

    async def assign(self, handoff_id: int, rep_id: int, now: datetime) -> bool:
        """A manager's decision: the hand-off belongs to `rep_id` now, claimed or not."""
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(ACTIVE_STATUSES))
            .values(status="claimed", rep_id=rep_id, claimed_at=now)
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def unassign(self, handoff_id: int, rep_id: int) -> bool:
        """Undo an assignment to `rep_id` (their card never reached them): the hand-off waits
        for a rep again, remembering that it was offered to them."""
        handoff = await self.get(handoff_id)
        if handoff is None or handoff.status != "claimed" or handoff.rep_id != rep_id:
            return False
        statement = (
            update(handoffs)
            .where(
                handoffs.c.id == handoff_id,
                handoffs.c.status == "claimed",
                handoffs.c.rep_id == rep_id,
            )
            .values(
                status="queued",
                rep_id=None,
                claimed_at=None,
                offered_to=list(dict.fromkeys([*handoff.offered_to, rep_id])),
            )
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def back_to_queue(self, handoff_id: int) -> None:
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.status == "offered")
            .values(status="queued", rep_id=None)
        )
        await self._db.execute(statement)

    async def answered(self, handoff_id: int, now: datetime) -> bool:
        """Note the rep's first answer; True when this is it."""
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.first_answer_at.is_(None))
            .values(first_answer_at=now)
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def load_of(self, rep_id: int) -> int:
        """Hand-offs a rep holds or is being offered now."""
        query = (
            select(func.count())
            .select_from(handoffs)
            .where(handoffs.c.rep_id == rep_id, handoffs.c.status.in_(("offered", "claimed")))
        )
        return int((await self._db.execute(query)).scalar_one())

    async def waiting(self, limit: int = 50) -> list[Handoff]:
        """Hand-offs nobody has: the queue offered to the next rep who comes online."""
        query = handoffs.select().where(handoffs.c.status == "queued").order_by(handoffs.c.id)
        return [handoff_from_row(row) for row in await self._db.execute(query.limit(limit))]

    async def claimed_by(self, rep_id: int) -> list[Handoff]:
        query = (
            handoffs.select()
            .where(handoffs.c.rep_id == rep_id, handoffs.c.status == "claimed")
            .order_by(handoffs.c.id)
        )
        return [handoff_from_row(row) for row in await self._db.execute(query)]

    async def last_rep_of_contact(self, contact_id: int, since: datetime) -> int | None:
        """The rep of this contact's latest hand-off closed since `since` (same rep again)."""
        query = (
            select(handoffs.c.rep_id)
            .where(
                handoffs.c.contact_id == contact_id,
                handoffs.c.status.in_(("closed", "returned")),
                handoffs.c.closed_at >= since,
                handoffs.c.rep_id.is_not(None),
            )
            .order_by(handoffs.c.closed_at.desc())
            .limit(1)
        )
        rep_id: int | None = (await self._db.execute(query)).scalar_one_or_none()
        return rep_id

    async def finish(
        self, handoff_id: int, status: str, summary: str | None, now: datetime
    ) -> bool:
        statement = (
            update(handoffs)
            .where(handoffs.c.id == handoff_id, handoffs.c.status.in_(ACTIVE_STATUSES))
            .values(status=status, summary=summary, closed_at=now)
        )
        return (await self._db.execute(statement)).rowcount == 1
