"""The outbox: replies waiting for delivery, claimed one at a time by the relay.

States: pending → sending → sent | failed. A row left in `sending` by a crashed process is
claimed again once its lease expires, so a reply can repeat (at-least-once), but only the one
that was in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.records import OutboxRow
from storage.tables import outbox


@dataclass(frozen=True, slots=True)
class NewOutbound:
    channel: str
    address: str
    text: str
    conversation_id: int | None = None
    inbound_message_id: int | None = None
    options: list[dict[str, str]] = field(default_factory=list)
    request_contact: bool = False
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


def outbox_from_row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        address=row.address,
        text=row.text,
        options=list(row.options or []),
        request_contact=row.request_contact,
        subject=row.subject,
        message_id=row.message_id,
        in_reply_to=row.in_reply_to,
        references=list(row.references or []),
        attempts=row.attempts,
    )


def _claimable(now: datetime) -> Any:
    pending = and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
    abandoned = and_(outbox.c.status == "sending", outbox.c.locked_until < now)
    return or_(pending, abandoned)


def _earlier_unsent_in_same_conversation() -> Any:
    # Replies of one conversation go out in order: a row waits while an older one is unsent.
    earlier = outbox.alias("earlier")
    return exists().where(
        earlier.c.conversation_id == outbox.c.conversation_id,
        earlier.c.id < outbox.c.id,
        earlier.c.status.in_(("pending", "sending")),
    )


class OutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def enqueue(self, rows: Sequence[NewOutbound], now: datetime) -> None:
        if not rows:
            return
        values = [
            {
                **{name: getattr(row, name) for name in NewOutbound.__dataclass_fields__},
                "status": "pending",
                "next_attempt_at": now,
                "created_at": now,
            }
            for row in rows
        ]
        await self._db.execute(outbox.insert(), values)

    async def claim_next(
        self, now: datetime, lease: timedelta, channels: Sequence[str]
    ) -> OutboxRow | None:
        """Lease the oldest deliverable row of `channels` (skipping rows another relay holds)."""
        candidate = (
            select(outbox.c.id)
            .where(
                _claimable(now),
                outbox.c.channel.in_(channels),
                ~_earlier_unsent_in_same_conversation(),
            )
            .order_by(outbox.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row_id = (await self._db.execute(candidate)).scalar_one_or_none()
        if row_id is None:
            return None
        statement = (
            update(outbox)
            .where(outbox.c.id == row_id, _claimable(now))
            .values(status="sending", locked_until=now + lease, attempts=outbox.c.attempts + 1)
            .returning(*outbox.c)
        )
        row = (await self._db.execute(statement)).first()
        return outbox_from_row(row) if row else None

    async def mark_sent(self, row_id: int, external_id: str | None, now: datetime) -> None:
        await self._set(
            row_id, status="sent", sent_at=now, external_id=external_id, locked_until=None
        )

    async def retry_later(self, row_id: int, when: datetime, error: str) -> None:
        await self._set(
            row_id, status="pending", next_attempt_at=when, last_error=error, locked_until=None
        )

    async def mark_failed(self, row_id: int, error: str) -> None:
        await self._set(row_id, status="failed", last_error=error, locked_until=None)

    async def _set(self, row_id: int, **values: Any) -> None:
        await self._db.execute(update(outbox).where(outbox.c.id == row_id).values(**values))

    async def counts(self) -> dict[str, int]:
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        return {status: int(count) for status, count in await self._db.execute(query)}

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
        value: datetime | None = (await self._db.execute(query)).scalar_one_or_none()
        return value

    async def status_of(self, row_id: int) -> str | None:
        query = select(outbox.c.status).where(outbox.c.id == row_id)
        return (await self._db.execute(query)).scalar_one_or_none()
