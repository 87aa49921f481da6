"""Dead letters: inbound messages that could not be processed, parked with the error, and
webhook deliveries given up after their last attempt (channel `webhook`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from storage.connection import SqlConnection
from storage.tables import dead_letters


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    channel: str
    external_id: str | None
    error: str
    status: str
    created_at: datetime


class DeadLetterRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def park(
        self,
        *,
        channel: str,
        external_id: str | None,
        error: str,
        now: datetime,
        payload: Mapping[str, object] | None = None,
        raw: bytes | None = None,
        address: str | None = None,
    ) -> int:
        statement = dead_letters.insert().values(
            channel=channel,
            address=address,
            external_id=external_id,
            error=error[:4000],
            payload=dict(payload) if payload is not None else None,
            raw=raw,
            created_at=now,
        )
        return int((await self._db.execute(statement.returning(dead_letters.c.id))).scalar_one())

    async def find(self, channel: str, external_id: str) -> int | None:
        query = select(dead_letters.c.id).where(
            dead_letters.c.channel == channel, dead_letters.c.external_id == external_id
        )
        return (await self._db.execute(query.limit(1))).scalar_one_or_none()

    async def set_status(self, channel: str, external_id: str, status: str) -> int:
        """Mark the dead letters of one item (a webhook delivery sent again: `redelivered`)."""
        statement = (
            update(dead_letters)
            .where(dead_letters.c.channel == channel, dead_letters.c.external_id == external_id)
            .values(status=status)
        )
        return (await self._db.execute(statement)).rowcount

    async def search(self, limit: int = 200) -> list[DeadLetter]:
        query = dead_letters.select().order_by(dead_letters.c.id.desc()).limit(limit)
        return [
            DeadLetter(row.id, row.channel, row.external_id, row.error, row.status, row.created_at)
            for row in await self._db.execute(query)
        ]
