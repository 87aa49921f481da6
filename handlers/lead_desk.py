"""What a rep does with leads by writing to the bot (Telegram or email), and the same steps
for the command line.

- the Accept button of a lead card, or `/accept N`: the lead becomes the rep's (one winner of
  a race; a rep accepts only a card offered to them, a manager any lead nobody owns);
- `/leads`: the rep's open leads; `/lead N`: one lead with its notes;
- `/note N text`, `/next N WHEN step` (a reminder to the owner when it comes due),
  `/stage N contacted|qualified|proposal|won|lost [reason]` (lost needs the reason);
- `/msg N text`: write to the lead's customer through the bot, on the customer's channel; the
  conversation then is the rep's (a hand-off held by them), so the customer's answers come
  back to the rep.

The owner works a lead; a manager works any. Every change is also a touchpoint on the
customer's timeline (run as a turn of the lead's conversation) with the rep as its actor, and
the first contact (a message, or a stage past `new`) is `lead_contacted` with its speed-to-lead:
the time from the lead's arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import LEAD_STAGES, ConversationState, Lead, Rep
from bot.turn import Action, Context, CustomerAction, Desk, Event, Notice, Reply, Result, Turn
from handlers.assignment import start_idle_clock
from handlers.cards import notice_to
from handlers.common import idle, shown_time, span_in_words
from handlers.due_times import parse_due
from handlers.lead_pipeline import ACCEPT_BUTTON, NEXT_STEP_TIMER, age
from handlers.reps import rep_language
from storage.repos.leads import LeadFilter

COMMANDS = frozenset({"accept", "leads", "lead", "note", "next", "stage", "msg"})
LIST_LIMIT = 20
NOTES_SHOWN = 5


def is_accept_button(data: str) -> bool:
    return data.startswith(ACCEPT_BUTTON)


def button_lead(data: str) -> int | None:
    number = data[len(ACCEPT_BUTTON) :]
    return int(number) if number.isdigit() else None


async def command(
    ctx: Context, rep: Rep, name: str, number: int | None, rest: str, now: datetime
) -> Desk:
    if name == "leads":
        return await my_leads(ctx, rep)
    lead = await ctx.uow.leads.get(number) if number is not None else None
    if lead is None:
        return _say(ctx, rep, "rep.lead_no_such", number=number or "?")
    if name == "accept":
        return await accept(ctx, rep, lead, now)
    if name == "lead":
        return await show(ctx, rep, lead)
    if not may_work(rep, lead):
        return _say(ctx, rep, "rep.lead_not_yours", number=lead.id)
    if name == "note":
        return _steps(await note(ctx, lead, rep, rest, now), lead)
    if name == "next":
        return _steps(await next_step(ctx, lead, rep, rest, now), lead)
    if name == "stage":
        return _steps(await set_stage(ctx, lead, rep, rest, now), lead)
    return await message_customer(ctx, rep, lead, rest, now)


def may_work(rep: Rep, lead: Lead) -> bool:
    return lead.owner_rep_id == rep.id or rep.role == "manager"


# --- accepting ---------------------------------------------------------------------------------


async def accept(ctx: Context, rep: Rep, lead: Lead, now: datetime) -> Desk:
    manager = rep.role == "manager"
    if lead.owner_rep_id == rep.id:
        return _say(ctx, rep, "rep.lead_accepted", number=lead.id)
    if lead.owner_rep_id is not None:
        return await _taken(ctx, rep, lead)
    if not lead.open or not (manager or lead.offered_rep_id == rep.id):
        return _say(ctx, rep, "rep.lead_not_offered", number=lead.id)
    if not await ctx.uow.leads.accept(lead.id, rep.id, now, offered_only=not manager):
        taken = await ctx.uow.leads.get(lead.id)
        return await _taken(ctx, rep, taken or lead)
    told = _say(ctx, rep, "rep.lead_accepted", number=lead.id)
    if lead.conversation_id is None:
        return told
    action = CustomerAction(lead.conversation_id, _accepted(lead, rep))
    return Desk(to_rep=told.to_rep, about=lead.conversation_id, customer=(action,))


def _accepted(lead: Lead, rep: Rep) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        details = {"lead_id": lead.id, "rep_id": rep.id, "latency": age(lead, turn.now)}
        notices = await _tell_the_others(ctx, lead, rep)
        span = span_in_words(ctx, turn.lang, ctx.config.lead_sla)
        text = ctx.say("lead.accepted", turn.lang, name=rep.name, number=lead.id, span=span)
        return Result(  # an announcement, not an answer: held in quiet hours
            replies=(Reply(text, proactive=True),),
            events=(Event(Kind.LEAD_ACCEPTED, details, Actor.REP),),
            notices=notices,
        )

    return action


async def _taken(ctx: Context, rep: Rep, lead: Lead) -> Desk:
    owner = await ctx.uow.reps.get(lead.owner_rep_id) if lead.owner_rep_id else None
    if owner is None:
        return _say(ctx, rep, "rep.lead_not_offered", number=lead.id)
    if owner.id == rep.id:
        return _say(ctx, rep, "rep.lead_accepted", number=lead.id)
    return _say(ctx, rep, "rep.lead_taken_by", number=lead.id, name=owner.name)


# --- working a lead ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """A change to a lead: the words back to whoever made it, and the touchpoints for the
    customer's timeline (none when nothing changed)."""

    said: str
    events: tuple[Event, ...] = ()


async def note(ctx: Context, lead: Lead, rep: Rep, text: str, now: datetime) -> Step:
    lang = rep_language(rep)
    if not text.strip():
        return Step(ctx.say("rep.lead_note_empty", lang, number=lead.id))
    note_id = await ctx.uow.leads.add_note(lead.id, text.strip()[:4000], "rep", rep.id, now)
    details = {"lead_id": lead.id, "rep_id": rep.id, "note_id": note_id}
    return Step(
        ctx.say("rep.lead_noted", lang, number=lead.id),
        (Event(Kind.LEAD_NOTED, details, Actor.REP),),
    )


async def next_step(ctx: Context, lead: Lead, rep: Rep, text: str, now: datetime) -> Step:
    lang = rep_language(rep)
    due = parse_due(text, now, ctx.config.zone)
    if due is None or not due[1]:
        return Step(ctx.say("rep.lead_next_help", lang, number=lead.id))
    moment, step = due
    await ctx.uow.leads.set_next_step(lead.id, step[:1000], moment, now)
    await ctx.uow.timers.schedule(
        NEXT_STEP_TIMER,
        moment,
        now,
        conversation_id=lead.conversation_id,
        payload={"lead_id": lead.id, "due": moment.isoformat()},
    )
    details = {"lead_id": lead.id, "rep_id": rep.id, "step": step[:1000], "due": moment.isoformat()}
    when = shown_time(ctx, moment)
    return Step(
        ctx.say("rep.lead_next_set", lang, number=lead.id, when=when, step=step),
        (Event(Kind.LEAD_NEXT_STEP_SET, details, Actor.REP),),
    )


async def set_stage(ctx: Context, lead: Lead, rep: Rep, text: str, now: datetime) -> Step:
    lang = rep_language(rep)
    stage, _, reason = text.strip().partition(" ")
    stage, reason = stage.lower(), reason.strip()[:200]
    if stage not in LEAD_STAGES:
        return Step(ctx.say("rep.lead_stage_help", lang, number=lead.id))
    if stage == "lost" and not reason:
        return Step(ctx.say("rep.lead_lost_reason", lang, number=lead.id))
    if not await ctx.uow.leads.set_status(lead.id, stage, now, lost_reason=reason or None):
        return Step(ctx.say("rep.lead_stage_set", lang, number=lead.id, stage=stage))
    details = {"lead_id": lead.id, "rep_id": rep.id, "from": lead.status, "to": stage}
    if reason and stage == "lost":
        details["reason"] = reason
    events = [Event(Kind.LEAD_STATUS_CHANGED, details, Actor.REP)]
    if stage != "new" and lead.contacted_at is None:
        events.extend(await first_contact(ctx, lead, rep, now, via="stage"))
    return Step(ctx.say("rep.lead_stage_set", lang, number=lead.id, stage=stage), tuple(events))


async def first_contact(
    ctx: Context, lead: Lead, rep: Rep, now: datetime, *, via: str
) -> tuple[Event, ...]:
    """`lead_contacted` with the speed-to-lead, the first time a rep reaches the customer."""
    if not await ctx.uow.leads.contacted(lead.id, now):
        return ()
    details = {"lead_id": lead.id, "rep_id": rep.id, "latency": age(lead, now), "via": via}
    return (Event(Kind.LEAD_CONTACTED, details, Actor.REP),)


def _steps(step: Step, lead: Lead) -> Desk:
    """Words back to the rep; the touchpoints recorded on the lead's conversation."""
    if not step.events or lead.conversation_id is None:
        return Desk(to_rep=(step.said,))
    events = step.events

    async def action(turn: Turn, ctx: Context) -> Result:
        return Result(events=events)

    return Desk(to_rep=(step.said,), customer=(CustomerAction(lead.conversation_id, action),))


async def answer_card(ctx: Context, rep: Rep, lead: Lead, text: str, now: datetime) -> Desk:
    """A reply to a lead's card (by mail, where there are no buttons): accepts it, and what the
    rep wrote, if anything, goes to the customer as with `/msg`."""
    words = text.strip()
    if lead.owner_rep_id is None:
        accepted = await accept(ctx, rep, lead, now)
        owned = await ctx.uow.leads.get(lead.id)
        if not words or owned is None or owned.owner_rep_id != rep.id:
            return accepted
        wrote = await message_customer(ctx, rep, owned, words, now)
        return Desk(
            to_rep=accepted.to_rep,
            about=lead.conversation_id,
            customer=(*accepted.customer, *wrote.customer),
        )
    if not may_work(rep, lead):
        return await _taken(ctx, rep, lead)
    if not words:
        return await show(ctx, rep, lead)
    return await message_customer(ctx, rep, lead, words, now)


# --- a rep who takes the customer's conversation takes their lead --------------------------


async def taken_with_conversation(turn: Turn, ctx: Context, rep: Rep) -> Result:
    """A rep claimed the customer's hand-off (a hot lead goes on to a person at once): the
    contact's open lead nobody has accepted becomes theirs too, so one person has both."""
    lead = await ctx.uow.leads.open_of_contact(turn.contact_id)
    if lead is None or lead.owner_rep_id is not None:
        return Result()
    if not await ctx.uow.leads.accept(lead.id, rep.id, turn.now, offered_only=False):
        return Result()
    details = {"lead_id": lead.id, "rep_id": rep.id, "latency": age(lead, turn.now)}
    notices = await _tell_the_others(ctx, lead, rep)
    return Result(events=(Event(Kind.LEAD_ACCEPTED, details, Actor.REP),), notices=notices)


async def _tell_the_others(ctx: Context, lead: Lead, rep: Rep) -> tuple[Notice, ...]:
    """Everyone else who was offered the lead learns who took it."""
    notices = []
    for rep_id in dict.fromkeys(lead.offered_to):
        other = await ctx.uow.reps.get(rep_id) if rep_id != rep.id else None
        if other is not None:
            text = ctx.say("rep.lead_taken_by", rep_language(other), number=lead.id, name=rep.name)
            notices.append(notice_to(other, text))
    return tuple(notices)


async def contacted_in_conversation(turn: Turn, ctx: Context, rep: Rep) -> tuple[Event, ...]:
    """The owner's first answer in a hand-off is the lead's first contact."""
    lead = await ctx.uow.leads.open_of_contact(turn.contact_id)
    if lead is None or lead.owner_rep_id != rep.id or lead.contacted_at is not None:
        return ()
    return await first_contact(ctx, lead, rep, turn.now, via="conversation")


# --- writing to the customer -------------------------------------------------------------------


async def message_customer(ctx: Context, rep: Rep, lead: Lead, text: str, now: datetime) -> Desk:
    """The rep's words to the lead's customer; the conversation becomes the rep's."""
    if not text.strip():
        return _say(ctx, rep, "rep.lead_msg_help", number=lead.id)
    if lead.conversation_id is None:
        return _say(ctx, rep, "rep.lead_no_conversation", number=lead.id)
    active = await ctx.uow.handoffs.active_for(lead.conversation_id)
    if active is not None and active.status == "claimed" and active.rep_id != rep.id:
        holder = await ctx.uow.reps.get(active.rep_id or 0)
        return _say(ctx, rep, "rep.lead_busy", number=lead.id, name=holder.name if holder else "?")
    action = CustomerAction(lead.conversation_id, _rep_writes(lead, rep, text.strip()[:4000]))
    return Desk(about=lead.conversation_id, customer=(action,))


def _rep_writes(lead: Lead, rep: Rep, text: str) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        handoff_id = await _held_by(turn, ctx, rep)
        handoff = await ctx.uow.handoffs.get(handoff_id)
        assert handoff is not None
        await start_idle_clock(ctx, handoff, turn.now)
        first = await ctx.uow.handoffs.answered(handoff_id, turn.now)
        events = [
            Event(
                Kind.REP_REPLIED,
                {"handoff_id": handoff_id, "rep_id": rep.id, "first": first},
                Actor.REP,
            ),
            *await first_contact(ctx, lead, rep, turn.now, via="message"),
        ]
        intro = ctx.say("lead.rep_writes", turn.lang, name=rep.name, number=lead.id)
        replies = (Reply(intro), Reply(text, human=True)) if first else (Reply(text, human=True),)
        told = ctx.say("rep.lead_msg_sent", rep_language(rep), number=lead.id, handoff=handoff_id)
        state = ConversationState(
            state="handoff", data={**idle(turn).data, "handoff_id": handoff_id}, language=turn.lang
        )
        return Result(
            replies=replies,
            events=tuple(events),
            state=state,
            notices=(notice_to(rep, told, about=turn.conversation.id),),
        )

    return action


async def _held_by(turn: Turn, ctx: Context, rep: Rep) -> int:
    """The conversation's hand-off, held by `rep`: the one they hold, a waiting one they take,
    or a new one (reason `lead_followup`) that is theirs at once."""
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    if active is not None and active.status == "claimed" and active.rep_id == rep.id:
        return active.id
    if active is not None and await ctx.uow.handoffs.claim(
        active.id, rep.id, turn.now, offered_only=False
    ):
        return active.id
    handoff_id = await ctx.uow.handoffs.open(
        turn.conversation.id, turn.contact_id, "lead_followup", turn.now
    )
    await ctx.uow.handoffs.claim(handoff_id, rep.id, turn.now, offered_only=False)
    return handoff_id


# --- reading -----------------------------------------------------------------------------------


async def my_leads(ctx: Context, rep: Rep) -> Desk:
    lang = rep_language(rep)
    mine = await ctx.uow.leads.search(
        where=LeadFilter(owner_rep_id=rep.id, open_only=True), limit=LIST_LIMIT, order="updated"
    )
    if not mine:
        return _say(ctx, rep, "rep.leads_none")
    lines = [_line(ctx, lead, lang) for lead in mine]
    return Desk(to_rep=(ctx.say("rep.leads_list", lang, leads="\n".join(lines)),))


async def show(ctx: Context, rep: Rep, lead: Lead) -> Desk:
    lang = rep_language(rep)
    if not may_work(rep, lead) and lead.offered_rep_id != rep.id:
        return _say(ctx, rep, "rep.lead_not_yours", number=lead.id)
    notes = (await ctx.uow.leads.notes(lead.id))[-NOTES_SHOWN:]
    noted = "\n".join(f"- {shown_time(ctx, n.created_at)}: {n.text[:300]}" for n in notes) or "-"
    text = ctx.say(
        "rep.lead_show",
        lang,
        line=_line(ctx, lead, lang),
        need=lead.need[:600] or "-",
        contact=", ".join(v for v in (lead.email, lead.phone) if v) or "-",
        notes=noted,
    )
    return Desk(to_rep=(text,), about=lead.conversation_id)


def _line(ctx: Context, lead: Lead, lang: str) -> str:
    step = (
        ctx.say(
            "rep.lead_line_next",
            lang,
            when=shown_time(ctx, lead.next_step_due_at),
            step=lead.next_step,
        )
        if lead.next_step_due_at and lead.next_step
        else ""
    )
    who = " · ".join(v for v in (lead.name, lead.company) if v) or "-"
    return f"#{lead.id} [{lead.status}] {who}: {lead.need[:80]}{step}"


def _say(ctx: Context, rep: Rep, key: str, **fields: object) -> Desk:
    return Desk(to_rep=(ctx.say(key, rep_language(rep), **fields),))
