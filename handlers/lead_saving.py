"""Leads as rows: what a contact told us before, a lead saved from the answers, a saved lead
completed later; the email and phone typed become the contact's claims."""

from __future__ import annotations

from dataclasses import replace

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import FlowData, lead_field
from bot.turn import Context, Event, Turn
from handlers.assignment import someone_reachable
from handlers.contact_info import without_controls
from handlers.lead_scoring import score_lead
from storage.repos.leads import NewLead

WAITING = "waiting"  # a lead's status when no rep could be told of it


async def known_facts(turn: Turn, ctx: Context) -> FlowData:
    """What the contact told us before: the last lead's name and company, and the email and
    phone that are the contact's own identities."""
    facts = FlowData()
    for lead in await ctx.uow.leads.search(contact_id=turn.contact_id, limit=1):
        if lead.name:
            facts["name"] = lead.name
        if lead.company:
            facts["company"] = lead.company
    for identity in await ctx.uow.contacts.identities(turn.contact_id):
        field = lead_field(identity.channel) if identity.reachable else None
        if field in ("email", "phone") and field not in facts:
            facts[field] = identity.address
    return facts


async def amend_lead(turn: Turn, ctx: Context, lead_id: int, data: FlowData) -> NewLead:
    """A saved lead completed or corrected with `data` (a later answer in its mail thread)."""
    lead = _new_lead(turn, data, ctx.say("lead.field.questions", turn.lang))
    await ctx.uow.leads.amend(lead_id, lead)
    await ctx.uow.contacts.update_profile(turn.contact_id, name=lead.name, company=lead.company)
    await _link_identities(turn, ctx, lead)
    return lead


async def save_lead(turn: Turn, ctx: Context, data: FlowData) -> tuple[NewLead, tuple[Event, ...]]:
    """Store the lead, update the contact, link the addresses given; the events to record.

    With no rep who could hear of it, the lead is saved as `waiting` (`lead_waiting`), so the
    team sees what nobody was told about, and the customer is promised no rep.
    """
    lead = _new_lead(turn, data, ctx.say("lead.field.questions", turn.lang))
    if not await someone_reachable(ctx):
        lead = replace(lead, status=WAITING)
    lead_id = await ctx.uow.leads.create(lead, turn.now)
    await ctx.uow.contacts.update_profile(turn.contact_id, name=lead.name, company=lead.company)
    details = {"lead_id": lead_id, "score": lead.score, "source": lead.source}
    events = [Event(Kind.LEAD_CAPTURED, details)]
    if lead.status == WAITING:
        events.append(Event(Kind.LEAD_WAITING, {"lead_id": lead_id}, Actor.SYSTEM))
    return lead, (*events, *await _link_identities(turn, ctx, lead))


def _new_lead(turn: Turn, data: FlowData, questions_label: str) -> NewLead:
    need = data.get("need", "")
    if questions := data.get("questions"):
        need = f"{need}\n{questions_label}: {' '.join(questions)}".strip()
    return NewLead(
        contact_id=turn.contact_id,
        conversation_id=turn.conversation.id,
        need=without_controls(need),
        name=_field(data.get("name")),
        company=_field(data.get("company")),
        email=_field(data.get("email")),
        phone=_field(data.get("phone")),
        budget=_field(data.get("budget")),
        timeline=_field(data.get("timeline")),
        source=_field(data.get("source")),
        score=score_lead(data),
    )


def _field(value: str | None) -> str | None:
    """A lead field as a rep reads it: control characters (ESC sequences, BEL) left out."""
    return without_controls(value) or None if value else None


async def _link_identities(turn: Turn, ctx: Context, lead: NewLead) -> list[Event]:
    """The email/phone typed become the contact's claims: kept with the contact (offered in the
    next lead), but never proof of who writes from them, nor taken from anyone else."""
    events: list[Event] = []
    for channel, address in (("email", lead.email), ("phone", lead.phone)):
        if not address:
            continue
        link = await ctx.uow.contacts.link(
            turn.contact_id, channel, address, turn.now, verified=False
        )
        if link.outcome == "conflict":
            await ctx.uow.contacts.record_conflict(
                turn.contact_id, link.owner_contact_id, channel, address, turn.now
            )
            details = {
                "channel": channel,
                "address": address,
                "owner_contact_id": link.owner_contact_id,
            }
            events.append(Event(Kind.IDENTITY_CONFLICT, details, Actor.SYSTEM))
    return events
