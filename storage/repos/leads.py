"""Leads captured by the qualification flow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, case, func, or_, select, update

from bot.records import CLOSED_LEAD_STAGES, Lead, LeadNote
from storage.connection import SqlConnection
from storage.tables import conversations, lead_notes, leads

# A lead saved while nobody could be told of it is `new` once a rep has it.
WAITING_BECOMES_NEW = case((leads.c.status == "waiting", "new"), else_=leads.c.status)

LeadOrder = Literal["newest", "oldest", "score", "updated"]
ORDERS: dict[str, Sequence[ColumnElement[Any]]] = {
    "newest": (leads.c.id.desc(),),
    "oldest": (leads.c.id.asc(),),
    "score": (leads.c.score.desc(), leads.c.id.desc()),
    "updated": (func.coalesce(leads.c.updated_at, leads.c.created_at).desc(), leads.c.id.desc()),
}


@dataclass(frozen=True, slots=True)
class LeadFilter:
    """Which leads a list shows; every field left None leaves that out."""

    status: str | None = None
    owner_rep_id: int | None = None
    unowned: bool = False
    source: str | None = None
    channel: str | None = None
    min_score: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    open_only: bool = False
    seen_by_rep_id: int | None = None  # only those this rep owns or is offered now

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.status is not None:
            found.append(leads.c.status == self.status)
        if self.owner_rep_id is not None:
            found.append(leads.c.owner_rep_id == self.owner_rep_id)
        if self.unowned:
            found.append(leads.c.owner_rep_id.is_(None))
        if self.source is not None:
            found.append(leads.c.source == self.source)
        if self.channel is not None:
            of_channel = select(conversations.c.id).where(conversations.c.channel == self.channel)
            found.append(leads.c.conversation_id.in_(of_channel))
        if self.min_score is not None:
            found.append(leads.c.score >= self.min_score)
        if self.since is not None:
            found.append(leads.c.created_at >= self.since)
        if self.until is not None:
            found.append(leads.c.created_at < self.until)
        if self.open_only:
            found.append(leads.c.status.not_in(CLOSED_LEAD_STAGES))
        if self.seen_by_rep_id is not None:
            rep_id = self.seen_by_rep_id
            found.append(or_(leads.c.owner_rep_id == rep_id, leads.c.offered_rep_id == rep_id))
        return found


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
        owner_rep_id=row.owner_rep_id,
        offered_rep_id=row.offered_rep_id,
        offered_to=tuple(row.offered_to or ()),
        offered_at=row.offered_at,
        accepted_at=row.accepted_at,
        contacted_at=row.contacted_at,
        escalated_at=row.escalated_at,
        closed_at=row.closed_at,
        lost_reason=row.lost_reason,
        next_step=row.next_step,
        next_step_due_at=row.next_step_due_at,
        updated_at=row.updated_at,
    )


def note_from_row(row: Row[Any]) -> LeadNote:
    return LeadNote(
        id=row.id,
        lead_id=row.lead_id,
        rep_id=row.rep_id,
        author=row.author,
        text=row.text,
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

    async def fill(self, lead_id: int, values: dict[str, str]) -> None:
        """Answers a lead lacked, given later (`values` names only empty fields)."""
        answers = {"name", "company", "email", "phone", "budget", "timeline"}
        await self._change(lead_id, **{k: v for k, v in values.items() if k in answers})

    async def get(self, lead_id: int) -> Lead | None:
        row = (await self._db.execute(leads.select().where(leads.c.id == lead_id))).first()
        return lead_from_row(row) if row else None

    async def search(
        self,
        *,
        contact_id: int | None = None,
        status: str | None = None,
        limit: int = 200,
        where: LeadFilter | None = None,
        order: LeadOrder = "newest",
    ) -> list[Lead]:
        query = leads.select()
        if contact_id is not None:
            query = query.where(leads.c.contact_id == contact_id)
        if status is not None:
            query = query.where(leads.c.status == status)
        if where is not None:
            query = query.where(*where.conditions())
        rows = await self._db.execute(query.order_by(*ORDERS[order]).limit(limit))
        return [lead_from_row(row) for row in rows]

    async def counts_by_status(self, where: LeadFilter) -> dict[str, int]:
        """How many leads `where` finds in each status (a board's column sizes)."""
        query = select(leads.c.status, func.count()).where(*where.conditions())
        return {
            row[0]: int(row[1]) for row in await self._db.execute(query.group_by(leads.c.status))
        }

    async def channels(self, lead_ids: Sequence[int]) -> dict[int, str]:
        """The channel of each lead's conversation (a lead without one is left out)."""
        query = (
            select(leads.c.id, conversations.c.channel)
            .join(conversations, conversations.c.id == leads.c.conversation_id)
            .where(leads.c.id.in_(list(lead_ids)))
        )
        return {row.id: row.channel for row in await self._db.execute(query)}

    async def open_of_contact(self, contact_id: int) -> Lead | None:
        """The contact's latest lead still being worked (not won or lost)."""
        found = await self.search(contact_id=contact_id, limit=1, where=LeadFilter(open_only=True))
        return found[0] if found else None

    async def next_steps_due_before(self, moment: datetime) -> int:
        """Open leads whose next step was due before `moment`."""
        query = (
            select(func.count())
            .select_from(leads)
            .where(
                leads.c.status.not_in(CLOSED_LEAD_STAGES),
                leads.c.next_step_due_at < moment,
            )
        )
        return int((await self._db.execute(query)).scalar_one())

    async def unowned(self, limit: int = 50) -> list[Lead]:
        """New leads nobody has accepted nor is being offered, and those saved while no rep
        could be told (`waiting`): the queue a rep coming online is offered, oldest first."""
        query = (
            leads.select()
            .where(
                leads.c.status.in_(("new", "waiting")),
                leads.c.owner_rep_id.is_(None),
                leads.c.offered_rep_id.is_(None),
            )
            .order_by(leads.c.id)
            .limit(limit)
        )
        return [lead_from_row(row) for row in await self._db.execute(query)]

    # --- the pipeline: every change is one conditional update, so a race has one winner ----

    async def offer(self, lead: Lead, rep_id: int, now: datetime) -> bool:
        """Offer an unowned lead to a rep, who then has until the deadline to accept it (a
        `waiting` lead is `new` from then on: somebody has been told of it)."""
        return await self._change(
            lead.id,
            leads.c.owner_rep_id.is_(None),
            offered_rep_id=rep_id,
            offered_at=now,
            offered_to=[*lead.offered_to, rep_id],
            updated_at=now,
            status=WAITING_BECOMES_NEW,
        )

    async def add_offer(self, lead: Lead, rep_id: int, now: datetime) -> bool:
        """A manager shown the card too (an escalation): any of them may accept it."""
        return await self._change(
            lead.id,
            leads.c.owner_rep_id.is_(None),
            offered_to=[*lead.offered_to, rep_id],
            updated_at=now,
        )

    async def withdraw_offer(self, lead_id: int, now: datetime) -> None:
        await self._change(lead_id, offered_rep_id=None, updated_at=now)

    async def accept(
        self, lead_id: int, rep_id: int, now: datetime, *, offered_only: bool = True
    ) -> bool:
        """The rep takes the lead: only while nobody owns it (one winner of a race), and with
        `offered_only` (a rep, not a manager) only while it is offered to that very rep."""
        offered = leads.c.offered_rep_id == rep_id if offered_only else leads.c.id.is_not(None)
        return await self._change(
            lead_id,
            leads.c.owner_rep_id.is_(None),
            offered,
            owner_rep_id=rep_id,
            offered_rep_id=None,
            accepted_at=now,
            updated_at=now,
            status=WAITING_BECOMES_NEW,
        )

    async def assign(self, lead_id: int, rep_id: int, now: datetime) -> bool:
        """A manager's decision: the lead is `rep_id`'s now, owned before or not."""
        return await self._change(
            lead_id,
            owner_rep_id=rep_id,
            offered_rep_id=None,
            accepted_at=func.coalesce(leads.c.accepted_at, now),
            updated_at=now,
            status=WAITING_BECOMES_NEW,
        )

    async def contacted(self, lead_id: int, now: datetime) -> bool:
        """Note the first contact by a rep (a new lead becomes `contacted`); True when this
        was it."""
        first = await self._change(
            lead_id, leads.c.contacted_at.is_(None), contacted_at=now, updated_at=now
        )
        if first:
            await self._change(lead_id, leads.c.status.in_(("new", "waiting")), status="contacted")
        return first

    async def escalated(self, lead_id: int, now: datetime) -> bool:
        """Note that the managers were told of a lead nobody contacted; True the first time."""
        return await self._change(lead_id, leads.c.escalated_at.is_(None), escalated_at=now)

    async def set_status(
        self, lead_id: int, status: str, now: datetime, *, lost_reason: str | None = None
    ) -> bool:
        closing = status in CLOSED_LEAD_STAGES
        return await self._change(
            lead_id,
            leads.c.status != status,
            status=status,
            lost_reason=lost_reason if status == "lost" else None,
            closed_at=now if closing else None,
            updated_at=now,
        )

    async def set_next_step(
        self, lead_id: int, text: str | None, due_at: datetime | None, now: datetime
    ) -> bool:
        return await self._change(lead_id, next_step=text, next_step_due_at=due_at, updated_at=now)

    async def touch(self, lead_id: int, now: datetime) -> None:
        await self._change(lead_id, updated_at=now)

    async def add_note(
        self, lead_id: int, text: str, author: str, rep_id: int | None, now: datetime
    ) -> int:
        statement = lead_notes.insert().values(
            lead_id=lead_id, text=text, author=author, rep_id=rep_id, created_at=now
        )
        note_id = int((await self._db.execute(statement.returning(lead_notes.c.id))).scalar_one())
        await self.touch(lead_id, now)
        return note_id

    async def notes(self, lead_id: int) -> list[LeadNote]:
        query = lead_notes.select().where(lead_notes.c.lead_id == lead_id).order_by(lead_notes.c.id)
        return [note_from_row(row) for row in await self._db.execute(query)]

    async def _change(self, lead_id: int, *conditions: Any, **values: Any) -> bool:
        statement = update(leads).where(leads.c.id == lead_id, *conditions).values(**values)
        return (await self._db.execute(statement)).rowcount == 1
