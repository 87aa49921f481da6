"""Every lead reaches a person: its card goes to a rep, is accepted, and is watched.

A saved lead is offered, as a hand-off is (handlers/assignment.py): to the contact's own rep
first, else to the rep on duty (in hours, speaking the customer's language, with room) who has
waited longest. The rep has `lead_accept_within` to accept it (the Accept button, `/accept N`,
or a reply to the card by mail); unaccepted, it goes to the next rep, then to every manager at
once. With nobody on duty it waits for the first rep who says /online; a lead saved while no
rep could be told of it at all (`waiting`) also for the next rep registered (`offer_waiting`).
Whatever happens to the offers, a lead nobody has contacted `lead_sla` after it came in
(counted from the team's next opening, when it came in after hours; for a waiting lead, after
a rep first gets it) is escalated to the managers once. All three watches are
durable timers of the lead's conversation, so a restart loses none and fires none twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import QuickReply
from bot.records import Conversation, Lead, Rep, Timer
from bot.turn import Context, Event, Notice, Result, Turn
from handlers.assignment import pick_rep, reachable_managers
from handlers.cards import notice_to
from handlers.common import shown_time, span_in_words
from handlers.reps import rep_language

ACCEPT_TIMER = "lead_accept"
SLA_TIMER = "lead_sla"
NEXT_STEP_TIMER = "lead_next_step"
TIMERS = (ACCEPT_TIMER, SLA_TIMER, NEXT_STEP_TIMER)
ACCEPT_BUTTON = "accept:"
PREVIEW = 600


# --- when a lead is saved ---------------------------------------------------------------------


async def on_saved(turn: Turn, ctx: Context, lead: Lead) -> tuple[Result, str]:
    """Offer a new lead and start its first-contact clock; the result, and the sentence that
    tells the customer truthfully what happens next (for the confirmation)."""
    await start_first_contact_clock(ctx, lead, turn.now)
    offered = await offer_next(ctx, lead, turn.conversation, turn.now)
    return offered, promise(ctx, turn.lang, turn.now, offered=bool(offered.notices))


def promise(ctx: Context, lang: str, now: datetime, *, offered: bool) -> str:
    """When the customer will hear from a person: within the first-contact time when a rep has
    the card now; when the team is back, when it is off; or as soon as somebody is on duty."""
    hours = ctx.config.rep_hours
    if hours and not hours.open_at(now):
        return ctx.say("lead.promise.back_at", lang, when=shown_time(ctx, hours.next_opening(now)))
    if offered:
        return ctx.say(
            "lead.promise.within", lang, span=span_in_words(ctx, lang, ctx.config.lead_sla)
        )
    return ctx.say("lead.promise.when_online", lang)


async def start_first_contact_clock(ctx: Context, lead: Lead, now: datetime) -> None:
    """The lead is escalated once when nobody has contacted the customer `lead_sla` from now
    (from the team's next opening, when it is off): when it is saved, or, for a lead saved
    while nobody could be told of it, when a rep first gets it."""
    await ctx.uow.timers.schedule(
        SLA_TIMER,
        start_of_work(ctx, now) + ctx.config.lead_sla,
        now,
        conversation_id=lead.conversation_id,
        payload={"lead_id": lead.id},
    )


def start_of_work(ctx: Context, now: datetime) -> datetime:
    """Now, or the team's next opening when it is off (the first-contact clock runs in hours)."""
    hours = ctx.config.rep_hours
    return hours.next_opening(now) if hours else now


async def waiting_for(ctx: Context, rep: Rep) -> list[Lead]:
    """Leads nobody has or is offered that `rep` could take: offered to them when they come
    online (in the customer's language, oldest first)."""
    found = []
    for lead in await ctx.uow.leads.unowned():
        conversation = await ctx.uow.conversations.get(lead.conversation_id or 0)
        if conversation is not None and conversation.current.language in rep.languages:
            found.append(lead)
    return found


async def offer_waiting(
    ctx: Context, lead_id: int, conversation: Conversation, now: datetime, *, to: Rep | None = None
) -> Result:
    """A lead that waited for a rep, offered now: to `to` (a rep who came online or was just
    registered), else by the usual rules. A lead saved while nobody could be told of it is
    `new` once offered, and its first-contact clock starts then. Nothing when it was taken or
    offered meanwhile."""
    lead = await ctx.uow.leads.get(lead_id)
    if lead is None or not lead.open or lead.owner_rep_id or lead.offered_rep_id:
        return Result()
    if to is not None:
        offered = await offer_to(ctx, lead, conversation, to, now)
    else:
        offered = await offer_next(ctx, lead, conversation, now)
    if offered.notices and lead.status == "waiting":
        await start_first_contact_clock(ctx, lead, now)
    return offered


async def offer_to_newcomer(
    ctx: Context, lead_id: int, conversation: Conversation, rep: Rep, now: datetime
) -> Result:
    """A waiting lead when `rep` has just been registered: offered by the usual rules, or,
    with nobody on duty, to the newcomer when they speak the customer's language (off duty,
    but reachable: the lead waited for anyone who could be told)."""
    offered = await offer_waiting(ctx, lead_id, conversation, now)
    if offered.notices or rep.reached_at is None:
        return offered
    if conversation.current.language not in rep.languages:
        return offered
    return await offer_waiting(ctx, lead_id, conversation, now, to=rep)


# --- offers ------------------------------------------------------------------------------------


async def offer_next(ctx: Context, lead: Lead, conversation: Conversation, now: datetime) -> Result:
    """Offer the lead to the next rep; once a rep has let it pass, to the managers; with nobody
    on duty it waits for the next rep who comes online."""
    rep = await pick_rep(ctx, conversation, now, skip=lead.offered_to)
    if rep is not None:
        return await offer_to(ctx, lead, conversation, rep, now)
    if not lead.offered_to:
        return Result()
    return await escalate(ctx, lead, conversation, now, reason="not_accepted")


async def offer_to(
    ctx: Context, lead: Lead, conversation: Conversation, rep: Rep, now: datetime
) -> Result:
    if not await ctx.uow.leads.offer(lead, rep.id, now):
        return Result()  # accepted meanwhile
    await ctx.uow.reps.update(rep.id, last_assigned_at=now)
    await ctx.uow.timers.schedule(
        ACCEPT_TIMER,
        now + ctx.config.lead_accept_within,
        now,
        conversation_id=conversation.id,
        payload={"lead_id": lead.id, "rep_id": rep.id},
    )
    notice = await lead_card(ctx, lead, conversation, rep, heading="rep.lead_card")
    details = {"lead_id": lead.id, "rep_id": rep.id, "latency": age(lead, now)}
    return Result(events=(Event(Kind.LEAD_OFFERED, details, Actor.SYSTEM),), notices=(notice,))


async def escalate(
    ctx: Context, lead: Lead, conversation: Conversation, now: datetime, *, reason: str
) -> Result:
    """Every reachable manager gets the card (any of them may accept an unowned lead)."""
    managers = reachable_managers(await ctx.uow.reps.managers(), lead.offered_to)
    if lead.owner_rep_id is None:
        await ctx.uow.leads.withdraw_offer(lead.id, now)
    notices: list[Notice] = []
    for manager in managers:
        if lead.owner_rep_id is None:
            await ctx.uow.leads.add_offer(lead, manager.id, now)
            lead = replace(lead, offered_to=(*lead.offered_to, manager.id))
        heading = f"rep.lead_escalated.{reason}"
        notices.append(await lead_card(ctx, lead, conversation, manager, heading=heading))
    details = {
        "lead_id": lead.id,
        "reason": reason,
        "managers": [m.id for m in managers],
        "latency": age(lead, now),
    }
    return Result(
        events=(Event(Kind.LEAD_ESCALATED, details, Actor.SYSTEM),), notices=tuple(notices)
    )


async def lead_card(
    ctx: Context, lead: Lead, conversation: Conversation, rep: Rep, *, heading: str
) -> Notice:
    """The card of a lead, in the rep's language; the customer's words as they wrote them."""
    lang = rep_language(rep)
    owner = await ctx.uow.reps.get(lead.owner_rep_id) if lead.owner_rep_id else None
    minutes = max(1, round(ctx.config.lead_accept_within.total_seconds() / 60))
    top = ctx.say(heading, lang, number=lead.id, owner=owner.name if owner else "-")
    body = ctx.say("rep.lead_facts", lang, **_facts(lead, conversation))
    options: tuple[QuickReply, ...] = ()
    if owner is None:
        action = ctx.say("rep.lead_accept", lang, number=lead.id, minutes=minutes)
        accept = ctx.say("rep.button.accept", lang)
        options = (_button(accept, lead.id),)
    else:
        action = ctx.say("rep.lead_owned", lang, number=lead.id)
    subject = f"[L{lead.id}] {lead.name or conversation.address}"
    text = f"{top}\n{body}\n\n{action}"
    return notice_to(rep, text, about=conversation.id, options=options, subject=subject)


def _button(label: str, lead_id: int) -> QuickReply:
    return QuickReply(label, f"{ACCEPT_BUTTON}{lead_id}")


def _facts(lead: Lead, conversation: Conversation) -> dict[str, object]:
    contact = ", ".join(v for v in (lead.email, lead.phone) if v) or conversation.address
    return {
        "name": lead.name or "-",
        "firm": lead.company or "-",
        "channel": conversation.channel,
        "language": conversation.current.language,
        "need": (lead.need or "-")[:PREVIEW],
        "contact": contact,
        "budget": lead.budget or "-",
        "timeline": lead.timeline or "-",
        "score": lead.score,
        "source": lead.source or "-",
    }


# --- timers ------------------------------------------------------------------------------------


async def on_timer(ctx: Context, conversation: Conversation, timer: Timer, now: datetime) -> Result:
    lead = await ctx.uow.leads.get(int(timer.payload.get("lead_id", 0)))
    if lead is None or not lead.open:
        return Result()
    if timer.kind == ACCEPT_TIMER:
        return await _accept_deadline(ctx, conversation, lead, timer, now)
    if timer.kind == SLA_TIMER:
        return await _first_contact_deadline(ctx, conversation, lead, now)
    return await _next_step_due(ctx, lead, timer)


async def _accept_deadline(
    ctx: Context, conversation: Conversation, lead: Lead, timer: Timer, now: datetime
) -> Result:
    rep_id = timer.payload.get("rep_id")
    if lead.owner_rep_id is not None or lead.offered_rep_id != rep_id:
        return Result()  # accepted, or offered to somebody else meanwhile
    expired = Event(Kind.LEAD_ACCEPT_EXPIRED, {"lead_id": lead.id, "rep_id": rep_id}, Actor.SYSTEM)
    following = await offer_next(ctx, lead, conversation, now)
    return Result(events=(expired, *following.events), notices=following.notices)


async def _first_contact_deadline(
    ctx: Context, conversation: Conversation, lead: Lead, now: datetime
) -> Result:
    if lead.contacted_at is not None or not await ctx.uow.leads.escalated(lead.id, now):
        return Result()
    return await escalate(ctx, lead, conversation, now, reason="no_first_contact")


async def _next_step_due(ctx: Context, lead: Lead, timer: Timer) -> Result:
    due = lead.next_step_due_at
    if due is None or due.isoformat() != timer.payload.get("due") or lead.owner_rep_id is None:
        return Result()  # changed or cleared since
    owner = await ctx.uow.reps.get(lead.owner_rep_id)
    if owner is None:
        return Result()
    text = ctx.say(
        "rep.lead_next_step_due", rep_language(owner), number=lead.id, step=lead.next_step or "-"
    )
    details = {"lead_id": lead.id, "rep_id": owner.id, "step": lead.next_step}
    return Result(
        events=(Event(Kind.LEAD_NEXT_STEP_DUE, details, Actor.SYSTEM),),
        notices=(notice_to(owner, text, about=lead.conversation_id),),
    )


def age(lead: Lead, now: datetime) -> float:
    """Seconds since the lead came in: the latency its touchpoints carry."""
    return round((now - lead.created_at).total_seconds(), 1)
