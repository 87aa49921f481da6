"""Which touchpoints become webhook events, and the body each event carries.

The recorder calls `enqueue` with every touchpoint it writes, in the same transaction: an
event is stored for each active endpoint that subscribed to it (the outbox pattern), so the
CRM hears of a change exactly when the change commits, and never of one that rolled back. The
body is built now, with a snapshot of the lead or ticket as the transaction leaves it, and is
sent later as it was stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.records import Lead, Ticket, ticket_id_from_number
from storage.repos.webhooks import NewDelivery
from storage.uow import UnitOfWork

LEAD_CREATED = "lead.created"
LEAD_UPDATED = "lead.updated"
TICKET_RESOLVED = "ticket.resolved"
CSAT_RATED = "csat.rated"
EVENTS = (LEAD_CREATED, LEAD_UPDATED, TICKET_RESOLVED, CSAT_RATED)

# Touchpoint kinds by their stored names, so a kind added later (`csat_rated`) is delivered
# as soon as something records it.
BY_KIND = {
    "lead_captured": LEAD_CREATED,
    **dict.fromkeys(
        (
            "lead_extended",
            "lead_amended",
            "lead_accepted",
            "lead_assigned",
            "lead_contacted",
            "lead_status_changed",
            "lead_noted",
            "lead_next_step_set",
        ),
        LEAD_UPDATED,
    ),
    "ticket_status_changed": TICKET_RESOLVED,  # when the new status is `resolved`
    "csat_rated": CSAT_RATED,
}
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Change:
    """A touchpoint as the recorder writes it."""

    kind: str
    details: Mapping[str, Any]
    occurred_at: datetime
    contact_id: int | None = None
    conversation_id: int | None = None


def event_of(change: Change) -> str | None:
    event = BY_KIND.get(change.kind)
    if event == TICKET_RESOLVED and change.details.get("to") != RESOLVED:
        return None
    return event


async def enqueue(uow: UnitOfWork, changes: Sequence[Change]) -> int:
    """Store the events these changes make for the endpoints that want them; returns how many
    deliveries were queued. One event per lead or ticket and kind in one call: a turn that
    moves a lead's stage and records its first contact sends one `lead.updated` (listing both
    changes), and a lead created in it no `lead.updated` besides."""
    wanted = [(event, change) for change in changes if (event := event_of(change))]
    if not wanted:
        return 0
    endpoints = await uow.webhooks.active()
    subscribed = {event for endpoint in endpoints for event in endpoint.events}
    wanted = [(event, change) for event, change in wanted if event in subscribed]
    bodies = await _bodies(uow, _grouped(wanted)) if wanted else []
    rows = [
        NewDelivery(endpoint.id, body["id"], body["type"], _json(body), _contact_of(body))
        for body in bodies
        for endpoint in endpoints
        if body["type"] in endpoint.events
    ]
    if rows:
        await uow.webhooks.enqueue(rows, wanted[0][1].occurred_at)
    return len(rows)


Key = tuple[str, object]


def _grouped(wanted: list[tuple[str, Change]]) -> dict[Key, list[Change]]:
    groups: dict[Key, list[Change]] = {}
    for event, change in wanted:
        groups.setdefault((event, _subject(event, change)), []).append(change)
    created = {subject for event, subject in groups if event == LEAD_CREATED}
    return {
        key: items
        for key, items in groups.items()
        if not (key[0] == LEAD_UPDATED and key[1] in created)
    }


def _subject(event: str, change: Change) -> object:
    if event in (LEAD_CREATED, LEAD_UPDATED):
        return change.details.get("lead_id")
    if event == TICKET_RESOLVED:
        return change.details.get("ticket")
    return id(change)  # every rating is an event of its own


async def _bodies(uow: UnitOfWork, groups: dict[Key, list[Change]]) -> list[dict[str, Any]]:
    bodies = []
    for (event, _), changes in groups.items():
        data = await _data(uow, event, changes)
        if data is not None:
            bodies.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": event,
                    "created_at": iso(changes[0].occurred_at),
                    "data": data,
                }
            )
    return bodies


async def _data(uow: UnitOfWork, event: str, changes: list[Change]) -> dict[str, Any] | None:
    first = changes[0]
    if event == LEAD_CREATED:
        lead = await _lead(uow, first.details.get("lead_id"))
        return {"lead": lead} if lead else None
    if event == LEAD_UPDATED:
        lead = await _lead(uow, first.details.get("lead_id"))
        return {"lead": lead, "changes": [_change(c) for c in changes]} if lead else None
    if event == TICKET_RESOLVED:
        ticket = await _ticket(uow, first.details.get("ticket"))
        return {"ticket": ticket, "previous_status": first.details.get("from")} if ticket else None
    return _rating(first)


def _contact_of(body: Mapping[str, Any]) -> int | None:
    """Whose data the body holds: it is forgotten with them (`contacts forget`)."""
    data = body["data"]
    subject = data.get("lead") or data.get("ticket") or data  # a rating names it itself
    contact_id = subject.get("contact_id")
    return contact_id if isinstance(contact_id, int) else None


def _change(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, **{k: v for k, v in change.details.items() if k != "lead_id"}}


async def _lead(uow: UnitOfWork, lead_id: object) -> dict[str, Any] | None:
    lead = await uow.leads.get(lead_id) if isinstance(lead_id, int) else None
    if lead is None:
        return None
    owner = await uow.reps.get(lead.owner_rep_id) if lead.owner_rep_id else None
    return lead_snapshot(lead, owner.name if owner else None)


def lead_snapshot(lead: Lead, owner: str | None) -> dict[str, Any]:
    return {
        "id": lead.id,
        "status": lead.status,
        "need": lead.need,
        "name": lead.name,
        "company": lead.company,
        "email": lead.email,
        "phone": lead.phone,
        "budget": lead.budget,
        "timeline": lead.timeline,
        "source": lead.source,
        "score": lead.score,
        "owner": owner,
        "owner_rep_id": lead.owner_rep_id,
        "contact_id": lead.contact_id,
        "conversation_id": lead.conversation_id,
        "created_at": iso(lead.created_at),
        "accepted_at": iso(lead.accepted_at),
        "contacted_at": iso(lead.contacted_at),
        "closed_at": iso(lead.closed_at),
        "lost_reason": lead.lost_reason,
        "next_step": lead.next_step,
        "next_step_due_at": iso(lead.next_step_due_at),
        "updated_at": iso(lead.updated_at),
    }


async def _ticket(uow: UnitOfWork, number: object) -> dict[str, Any] | None:
    ticket = (
        await uow.tickets.get(ticket_id_from_number(number)) if isinstance(number, int) else None
    )
    return ticket_snapshot(ticket) if ticket else None


def ticket_snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "status": ticket.status,
        "category": ticket.category,
        "summary": ticket.summary,
        "contact_id": ticket.contact_id,
        "conversation_id": ticket.conversation_id,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


def _rating(change: Change) -> dict[str, Any]:
    """A satisfaction rating as its touchpoint describes it (`rating`, 1-5, and what it rates),
    with whose it is."""
    return {
        **change.details,
        "contact_id": change.contact_id,
        "conversation_id": change.conversation_id,
    }


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z: `2026-03-02T09:00:00Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
