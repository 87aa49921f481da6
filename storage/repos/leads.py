"""Leads captured by the qualification flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from bot.records import Lead
from storage.connection import SqlConnection
from storage.tables import leads


@dataclass(frozen=True, slots=True)
class NewLead:
    contact_id: int
    conversation_id: int | None
    need: str
    name: str | None
    company: str | None
    email: str | None
    phone: str | None
    budget: str | None
    timeline: str | None
    source: str | None
    score: int
    status: str = "new"  # `waiting`: saved while no rep could be told of it


def lead_from_row(row: Row[Any]) -> Lead:
    return Lead(
        id=row.id,
        contact_id=row.contact_id,
        conversation_id=row.conversation_id,
        status=row.status,
        need=row.need,
        name=row.name,
        company=row.company,
        email=row.email,
        phone=row.phone,
        budget=row.budget,
        timeline=row.timeline,
        source=row.source,
        score=row.score,
        created_at=row.created_at,
    )


class LeadRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def create(self, lead: NewLead, now: datetime) -> int:
        values = {name: getattr(lead, name) for name in NewLead.__dataclass_fields__}
        statement = leads.insert().values(created_at=now, **values)
        return int((await self._db.execute(statement.returning(leads.c.id))).scalar_one())

    async def amend(self, lead_id: int, lead: NewLead) -> None:
        """The lead's answers and score become `lead`'s (its contact, conversation, source,
        status and creation time stay): a customer completed or corrected it later."""
        answers = ("need", "name", "company", "email", "phone", "budget", "timeline", "score")
        values = {name: getattr(lead, name) for name in answers}
        await self._db.execute(leads.update().where(leads.c.id == lead_id).values(**values))

    async def get(self, lead_id: int) -> Lead | None:
        row = (await self._db.execute(leads.select().where(leads.c.id == lead_id))).first()
        return lead_from_row(row) if row else None

    async def search(
        self, *, contact_id: int | None = None, status: str | None = None, limit: int = 200
    ) -> list[Lead]:
        query = leads.select()
        if contact_id is not None:
            query = query.where(leads.c.contact_id == contact_id)
        if status is not None:
            query = query.where(leads.c.status == status)
        rows = await self._db.execute(query.order_by(leads.c.id.desc()).limit(limit))
        return [lead_from_row(row) for row in rows]
