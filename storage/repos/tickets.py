"""Service requests (tickets) with their notes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, update

from bot.records import Ticket
from storage.connection import SqlConnection
from storage.tables import service_requests, ticket_notes

OPEN_STATUSES = ("open", "in_progress", "waiting")
ENDED_STATUSES = ("resolved", "closed")
STATUSES = (*OPEN_STATUSES, *ENDED_STATUSES)


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """Which tickets: each field narrows the list; None leaves it open."""

    status: str | None = None
    overdue_before: datetime | None = None  # still open and opened before this moment
    since: datetime | None = None  # opened at or after
    until: datetime | None = None  # opened before
    contact_ids: Collection[int] | None = None


def _open_before(moment: datetime) -> ColumnElement[bool]:
    """Overdue: not resolved or closed, and opened before `moment` (bot/reports.overdue_cutoff)."""
    columns = service_requests.c
    return columns.status.not_in(ENDED_STATUSES) & (columns.created_at < moment)


def is_overdue(ticket: Ticket, moment: datetime) -> bool:
    """`_open_before` for one ticket in hand."""
    return ticket.status not in ENDED_STATUSES and ticket.created_at < moment


def _filtered(query: Select[Any], where: TicketFilter) -> Select[Any]:
    columns = service_requests.c
    conditions = [
        columns.status == where.status if where.status is not None else None,
        _open_before(where.overdue_before) if where.overdue_before is not None else None,
        columns.created_at >= where.since if where.since is not None else None,
        columns.created_at < where.until if where.until is not None else None,
        columns.contact_id.in_(where.contact_ids) if where.contact_ids is not None else None,
    ]
    return query.where(*(condition for condition in conditions if condition is not None))


def ticket_from_row(row: Row[Any]) -> Ticket:
    return Ticket(
        id=row.id,
        contact_id=row.contact_id,
        conversation_id=row.conversation_id,
        status=row.status,
        category=row.category,
        summary=row.summary,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class TicketRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def open(
        self,
        *,
        contact_id: int,
        conversation_id: int,
        category: str,
        summary: str,
        now: datetime,
    ) -> Ticket:
        statement = service_requests.insert().values(
            contact_id=contact_id,
            conversation_id=conversation_id,
            category=category,
            summary=summary,
            status="open",
            created_at=now,
            updated_at=now,
        )
        row = (await self._db.execute(statement.returning(*service_requests.c))).one()
        return ticket_from_row(row)

    async def get(self, ticket_id: int) -> Ticket | None:
        query = service_requests.select().where(service_requests.c.id == ticket_id)
        row = (await self._db.execute(query)).first()
        return ticket_from_row(row) if row else None

    async def search(
        self, *, contact_id: int | None = None, status: str | None = None, limit: int = 200
    ) -> list[Ticket]:
        query = service_requests.select()
        if contact_id is not None:
            query = query.where(service_requests.c.contact_id == contact_id)
        if status is not None:
            query = query.where(service_requests.c.status == status)
        rows = await self._db.execute(query.order_by(service_requests.c.id.desc()).limit(limit))
        return [ticket_from_row(row) for row in rows]

    async def matching(self, where: TicketFilter, *, limit: int = 500) -> list[Ticket]:
        """The tickets `where` describes, newest first."""
        query = _filtered(service_requests.select(), where)
        rows = await self._db.execute(query.order_by(service_requests.c.id.desc()).limit(limit))
        return [ticket_from_row(row) for row in rows]

    async def add_note(
        self, ticket_id: int, text: str, author: str, message_id: int | None, now: datetime
    ) -> None:
        await self._db.execute(
            ticket_notes.insert().values(
                ticket_id=ticket_id, message_id=message_id, author=author, text=text, created_at=now
            )
        )
        await self._touch(ticket_id, now)

    async def notes(self, ticket_id: int) -> list[tuple[str, str, datetime]]:
        query = (
            select(ticket_notes.c.author, ticket_notes.c.text, ticket_notes.c.created_at)
            .where(ticket_notes.c.ticket_id == ticket_id)
            .order_by(ticket_notes.c.id)
        )
        return [(row.author, row.text, row.created_at) for row in await self._db.execute(query)]

    async def set_status(self, ticket_id: int, status: str, now: datetime) -> bool:
        statement = (
            update(service_requests)
            .where(service_requests.c.id == ticket_id)
            .values(status=status, updated_at=now)
        )
        return (await self._db.execute(statement)).rowcount == 1

    async def _touch(self, ticket_id: int, now: datetime) -> None:
        await self._db.execute(
            update(service_requests)
            .where(service_requests.c.id == ticket_id)
            .values(updated_at=now)
        )

    async def open_since_before(self, moment: datetime) -> int:
        """Tickets still open (not resolved or closed) that were opened before `moment`."""
        query = select(func.count()).select_from(service_requests).where(_open_before(moment))
        return int((await self._db.execute(query)).scalar_one())
