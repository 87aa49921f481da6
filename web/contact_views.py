"""A contact as the console shows it: who they are on which channel (proven or only typed),
what is open for them, their merges, and one page of their timeline across channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.kinds import TouchpointKind as Kind
from bot.records import Contact, ContactMerge, Handoff, Identity, Lead, Ticket, TouchpointRow
from storage.repos.contacts import Conflict
from storage.repos.leads import LeadFilter
from storage.uow import UnitOfWork
from web.lead_views import rep_names, short

TIMELINE_PAGE = 100
TEXT_PREVIEW = 300
CLOSED_TICKETS = ("resolved", "closed")
# What a touchpoint says in words of its own (a message, an outcome, a comment), first found.
SAID = ("text", "outcome", "comment", "summary", "step", "reason")
INBOUND = {Kind.MESSAGE_IN, Kind.CUSTOMER_REPLIED, Kind.CUSTOMER_WAITING, Kind.TICKET_UPDATED}
OUTBOUND = {Kind.MESSAGE_OUT, Kind.REP_REPLIED}


@dataclass(frozen=True, slots=True)
class Entry:
    """One touchpoint on the timeline, with the words it carries (bounded) and its side."""

    touchpoint: TouchpointRow
    said: str | None
    side: str  # "in", "out" or ""

    @property
    def details(self) -> dict[str, Any]:
        return self.touchpoint.details

    @property
    def happened_at(self) -> datetime | None:
        """When a contact point logged by hand took place (it is recorded when it is logged)."""
        at = self.details.get("at")
        try:
            return datetime.fromisoformat(at) if isinstance(at, str) else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ContactView:
    contact: Contact
    verified: list[Identity]
    claimed: list[Identity]
    leads: list[Lead]
    tickets: list[Ticket]
    handoffs: list[Handoff]
    merges: list[ContactMerge]
    conflicts: list[Conflict]
    names: dict[int, str]
    timeline: list[Entry]
    older: bool


def entry_of(touchpoint: TouchpointRow) -> Entry:
    said = next((v for k in SAID if isinstance(v := touchpoint.details.get(k), str) and v), None)
    side = "in" if touchpoint.kind in INBOUND else "out" if touchpoint.kind in OUTBOUND else ""
    return Entry(touchpoint, short(said, TEXT_PREVIEW) if said else None, side)


async def contact_view(
    uow: UnitOfWork, contact: Contact, *, page: int, with_conflicts: bool
) -> ContactView:
    found = await uow.touchpoints.page(
        contact.id, offset=page * TIMELINE_PAGE, limit=TIMELINE_PAGE + 1
    )
    known = await uow.contacts.identities(contact.id)
    return ContactView(
        contact=contact,
        verified=[identity for identity in known if identity.verified],
        claimed=[identity for identity in known if not identity.verified],
        leads=await uow.leads.search(contact_id=contact.id, where=LeadFilter(open_only=True)),
        tickets=[t for t in await uow.tickets.search(contact_id=contact.id) if _open(t)],
        handoffs=await uow.handoffs.active_of_contact(contact.id),
        merges=await uow.merges.of_contact(contact.id),
        conflicts=await uow.contacts.conflicts(contact.id) if with_conflicts else [],
        names=await rep_names(uow),
        timeline=[entry_of(touchpoint) for touchpoint in found[:TIMELINE_PAGE]],
        older=len(found) > TIMELINE_PAGE,
    )


def _open(ticket: Ticket) -> bool:
    return ticket.status not in CLOSED_TICKETS
