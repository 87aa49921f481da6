"""Leads as rows: what a contact told us before, a lead saved from the answers, a saved lead
completed later; the email and phone typed become the contact's claims."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import FlowData, Lead, lead_field
from bot.turn import Context, Event, Notice, Result, Turn
from handlers import lead_pipeline
from handlers.assignment import someone_reachable
from handlers.cards import notice_to
from handlers.contact_info import without_controls
from handlers.lead_scoring import score_lead
from handlers.reps import rep_language
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


@dataclass(frozen=True, slots=True)
class Saved:
    """A lead saved from a conversation: the row, whether an open lead of the contact took the
    answers (no second lead), what to record and tell reps, and what the customer is promised."""

    lead: Lead
    extended: bool
    result: Result
    promise: str


async def save_lead(turn: Turn, ctx: Context, data: FlowData) -> Saved:
    """Store the lead (or extend the contact's open one), update the contact, link the
    addresses given, and put the lead in front of a person.

    With no rep who could hear of it, the lead is saved as `waiting` (`lead_waiting`), so the
    team sees what nobody was told about, and the customer is promised no rep.
    """
    new = _new_lead(turn, data, ctx.say("lead.field.questions", turn.lang))
    await ctx.uow.contacts.update_profile(turn.contact_id, name=new.name, company=new.company)
    linked = await _link_identities(turn, ctx, new)
    open_lead = await ctx.uow.leads.open_of_contact(turn.contact_id)
    if open_lead is not None:
        return await _extend(turn, ctx, open_lead, new, linked)
    if not await someone_reachable(ctx):
        new = replace(new, status=WAITING)
    lead = await _created(ctx, new, turn.now)
    details = {"lead_id": lead.id, "score": lead.score, "source": lead.source}
    events = [Event(Kind.LEAD_CAPTURED, details), *linked]
    if lead.status == WAITING:
        events.append(Event(Kind.LEAD_WAITING, {"lead_id": lead.id}, Actor.SYSTEM))
        return Saved(lead, False, Result(events=tuple(events)), "")
    offered, promised = await lead_pipeline.on_saved(turn, ctx, lead)
    result = Result(events=(*events, *offered.events), notices=offered.notices)
    return Saved(lead, False, result, promised)


async def _created(ctx: Context, new: NewLead, now: datetime) -> Lead:
    lead = await ctx.uow.leads.get(await ctx.uow.leads.create(new, now))
    assert lead is not None
    return lead


async def _extend(turn: Turn, ctx: Context, lead: Lead, new: NewLead, linked: list[Event]) -> Saved:
    """A contact with a lead still being worked asks again: the new request is a note on that
    lead (and fills what it lacked), its rep is told, and no second lead is made."""
    missing = {
        name: getattr(new, name)
        for name in ("name", "company", "email", "phone", "budget", "timeline")
        if getattr(new, name) and not getattr(lead, name)
    }
    if missing:
        await ctx.uow.leads.fill(lead.id, missing)
    if new.need:
        await ctx.uow.leads.add_note(lead.id, new.need, "customer", None, turn.now)
    else:
        await ctx.uow.leads.touch(lead.id, turn.now)
    details = {"lead_id": lead.id, "filled": sorted(missing)}
    events = (Event(Kind.LEAD_EXTENDED, details, Actor.CUSTOMER), *linked)
    holder_id = lead.owner_rep_id or lead.offered_rep_id
    holder = await ctx.uow.reps.get(holder_id) if holder_id else None
    notices: tuple[Notice, ...] = ()
    if holder is not None:
        text = ctx.say(
            "rep.lead_extended", rep_language(holder), number=lead.id, need=new.need[:600] or "-"
        )
        notices = (notice_to(holder, text, about=turn.conversation.id),)
    owner = holder if lead.owner_rep_id else None
    promised = (
        ctx.say("lead.promise.owner", turn.lang, name=owner.name)
        if owner
        else lead_pipeline.promise(ctx, turn.lang, turn.now, offered=holder is not None)
    )
    return Saved(lead, True, Result(events=events, notices=notices), promised)


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
