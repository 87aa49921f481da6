"""Outgoing webhooks: the endpoints, and their deliveries as an outbox of their own.

A delivery row is written in the transaction of the change it reports, leased by one sender
(`sending`, with a lease token and an expiry), and settled only under that lease: a sender whose
lease ran out and was taken over changes nothing (the same fence as the relay's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, or_, select, text, update

from storage.connection import SqlConnection
from storage.tables import webhook_deliveries, webhooks

# Literal SQL, so that SQLite sees the condition of the partial index and walks it.
UNDELIVERED = text("webhook_deliveries.status IN ('pending', 'sending')")


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str = field(repr=False)  # may hold credentials: never in a repr, a log or an error
    events: tuple[str, ...]
    active: bool
    created_at: datetime
    secret: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    webhook_id: int
    event_id: str
    event: str
    body: str
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A leased delivery with what sending it needs (its endpoint's URL and secret)."""

    id: int
    webhook_id: int
    event_id: str
    event: str
    body: str
    status: str
    attempts: int
    lease_token: str | None
    last_error: str | None
    url: str = field(repr=False)
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery as the CLI shows it (no body, no secret)."""

    id: int
    webhook_id: int
    event_id: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=tuple(row.events),
        active=bool(row.active),
        created_at=row.created_at,
        secret=row.secret,
    )


def _claimable(now: datetime) -> Any:
    """Due and pending, or `sending` under a lease that has expired (its sender died)."""
    pending = and_(
        webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now
    )
    abandoned = and_(
        webhook_deliveries.c.status == "sending", webhook_deliveries.c.locked_until < now
    )
    return or_(pending, abandoned)


HELD = and_(
    webhook_deliveries.c.id == bindparam("delivery_id"),
    webhook_deliveries.c.status == "sending",
    webhook_deliveries.c.lease_token == bindparam("token"),
)


class WebhookRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    # --- endpoints -----------------------------------------------------------------------

    async def add(self, url: str, secret: str, events: Sequence[str], now: datetime) -> int:
        statement = webhooks.insert().values(
            url=url, secret=secret, events=list(events), active=True, created_at=now
        )
        return int((await self._db.execute(statement.returning(webhooks.c.id))).scalar_one())

    async def get(self, webhook_id: int) -> Webhook | None:
        row = (await self._db.execute(webhooks.select().where(webhooks.c.id == webhook_id))).first()
        return _webhook(row) if row else None

    async def active(self) -> list[Webhook]:
        query = webhooks.select().where(webhooks.c.active.is_(True)).order_by(webhooks.c.id)
        return [_webhook(row) for row in await self._db.execute(query)]

    async def remove(self, webhook_id: int) -> int | None:
        """Stop sending to an endpoint: it is kept (its deliveries refer to it) but inactive,
        and what it had not received yet is cancelled. None when there is no such endpoint."""
        statement = (
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.active.is_(True))
            .values(active=False)
        )
        if (await self._db.execute(statement)).rowcount != 1:
            return None
        cancelled = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id, UNDELIVERED)
            .values(status="cancelled", locked_until=None)
        )
        return (await self._db.execute(cancelled)).rowcount

    async def counts(self) -> dict[int, dict[str, int]]:
        """Deliveries per endpoint and status."""
        query = select(
            webhook_deliveries.c.webhook_id, webhook_deliveries.c.status, func.count()
        ).group_by(webhook_deliveries.c.webhook_id, webhook_deliveries.c.status)
        found: dict[int, dict[str, int]] = {}
        for webhook_id, status, count in await self._db.execute(query):
            found.setdefault(webhook_id, {})[status] = count
        return found

    # --- deliveries ----------------------------------------------------------------------

    async def enqueue(self, rows: Sequence[NewDelivery], now: datetime) -> None:
        if not rows:
            return
        values = [
            {
                "webhook_id": row.webhook_id,
                "contact_id": row.contact_id,
                "event_id": row.event_id,
                "event": row.event,
                "body": row.body,
                "status": "pending",
                "next_attempt_at": now,
                "created_at": now,
            }
            for row in rows
        ]
        await self._db.execute(webhook_deliveries.insert(), values)

    async def claim_next(self, now: datetime, lease: timedelta, token: str) -> Delivery | None:
        """Lease the oldest due delivery to an active endpoint (skipping rows another sender
        holds), counting the attempt."""
        candidate = (
            select(webhook_deliveries.c.id)
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .where(UNDELIVERED, _claimable(now), webhooks.c.active.is_(True))
            .order_by(webhook_deliveries.c.id)
            .limit(1)
            .with_for_update(of=webhook_deliveries, skip_locked=True)
        )
        delivery_id = (await self._db.execute(candidate)).scalar_one_or_none()
        if delivery_id is None:
            return None
        claim = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id, _claimable(now))
            .values(
                status="sending",
                locked_until=now + lease,
                lease_token=token,
                attempts=webhook_deliveries.c.attempts + 1,
            )
        )
        if (await self._db.execute(claim)).rowcount != 1:
            return None
        return await self._leased(delivery_id)

    async def _leased(self, delivery_id: int) -> Delivery | None:
        query = (
            select(webhook_deliveries, webhooks.c.url, webhooks.c.secret)
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .where(webhook_deliveries.c.id == delivery_id)
        )
        row = (await self._db.execute(query)).first()
        if row is None:
            return None
        return Delivery(
            id=row.id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            event=row.event,
            body=row.body,
            status=row.status,
            attempts=row.attempts,
            lease_token=row.lease_token,
            last_error=row.last_error,
            url=row.url,
            secret=row.secret,
        )

    async def mark_delivered(self, delivery: Delivery, now: datetime) -> bool:
        """Each settling method returns False, changing nothing, when the delivery's lease is no
        longer the one it was sent under."""
        return await self._settle(
            delivery, status="delivered", delivered_at=now, locked_until=None, last_error=None
        )

    async def retry_later(self, delivery: Delivery, when: datetime, error: str) -> bool:
        return await self._settle(
            delivery, status="pending", next_attempt_at=when, last_error=error, locked_until=None
        )

    async def mark_dead(self, delivery: Delivery, error: str) -> bool:
        return await self._settle(delivery, status="dead", last_error=error, locked_until=None)

    async def reclaim(self, holder: str) -> int:
        """Deliveries this instance was sending when it stopped: pending again at once (the one
        in flight may arrive twice; nothing is lost)."""
        statement = (
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.status == "sending",
                webhook_deliveries.c.lease_token.startswith(f"{holder}:"),
            )
            .values(status="pending", locked_until=None, attempts=webhook_deliveries.c.attempts - 1)
        )
        return (await self._db.execute(statement)).rowcount

    async def redeliver(self, delivery_id: int, now: datetime) -> bool:
        """A dead (or delivered) delivery to an active endpoint, pending again with a fresh
        count of attempts; False when it is not one (pending, sending, cancelled, forgotten,
        unknown)."""
        active = select(webhooks.c.id).where(webhooks.c.active.is_(True))
        statement = (
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.status.in_(("dead", "delivered")),
                webhook_deliveries.c.webhook_id.in_(active),
                webhook_deliveries.c.body != "",  # not forgotten
            )
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                locked_until=None,
                lease_token=None,
                delivered_at=None,
            )
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def view(self, delivery_id: int) -> DeliveryView | None:
        views = await self.search(delivery_id=delivery_id)
        return views[0] if views else None

    async def search(
        self,
        *,
        delivery_id: int | None = None,
        webhook_id: int | None = None,
        status: str | None = None,
        limit: int = 200,
    ) -> list[DeliveryView]:
        query = webhook_deliveries.select()
        if delivery_id is not None:
            query = query.where(webhook_deliveries.c.id == delivery_id)
        if webhook_id is not None:
            query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
        if status is not None:
            query = query.where(webhook_deliveries.c.status == status)
        rows = await self._db.execute(query.order_by(webhook_deliveries.c.id.desc()).limit(limit))
        return [
            DeliveryView(
                id=row.id,
                webhook_id=row.webhook_id,
                event_id=row.event_id,
                event=row.event,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
                created_at=row.created_at,
                delivered_at=row.delivered_at,
            )
            for row in rows
        ]

    async def _settle(self, delivery: Delivery, **values: Any) -> bool:
        statement = update(webhook_deliveries).where(HELD).values(**values)
        held = {"delivery_id": delivery.id, "token": delivery.lease_token}
        return (await self._db.execute(statement, held)).rowcount == 1
