"""What an operator watches, read in one transaction: the backlog of replies, parked messages
and due timers (the gauges of `/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, text

from storage.connection import SqlConnection
from storage.tables import dead_letters, outbox, timers

# Literal SQL, so that both engines see the condition of the partial index and walk only it.
UNSENT = text("outbox.status IN ('pending', 'sending')")


@dataclass(frozen=True, slots=True)
class Backlog:
    unsent: int
    oldest_unsent_at: datetime | None  # of those due now
    parked: int
    timers_due: int


class HealthRepository:
    def __init__(self, db: SqlConnection) -> None:
        self._db = db

    async def backlog(self, now: datetime) -> Backlog:
        # The oldest reply that is due: one held for the quiet hours is not late.
        due_since = func.min(case((outbox.c.next_attempt_at <= now, outbox.c.created_at)))
        unsent = select(func.count(), due_since).where(UNSENT)
        count, oldest = (await self._db.execute(unsent)).one()
        parked = select(func.count()).where(dead_letters.c.status == "parked")
        due = select(func.count()).where(timers.c.status == "pending", timers.c.due_at <= now)
        return Backlog(
            unsent=int(count),
            oldest_unsent_at=oldest,
            parked=int((await self._db.execute(parked)).scalar() or 0),
            timers_due=int((await self._db.execute(due)).scalar() or 0),
        )

    async def ping(self) -> None:
        await self._db.execute(select(1))
