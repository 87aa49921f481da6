"""What a rep or a manager does from the command line (naming themselves, `--as NAME`) or the
sales console (signed in).

The same steps they take from the chat (handlers/lead_desk.py, handlers/rep_desk.py), run by
the caller as turns of the customer's conversation, so they land on the customer's timeline.
What a person does outside a chat is the operator's: the events carry the actor `operator`
and the person's rep id in their details, as `touchpoint handoffs assign` records.

- a manager gives a lead to a rep (`assign`): the rep gets the card, whoever had or was
  offered it is told, and so is the customer;
- a rep works their own leads, a manager any (`lead_step`: a note, the next step, a stage);
- a person answers a hand-off's customer (`reply`): a rep one they hold, a manager any open
  one (a waiting one becomes theirs); claims one (`claim`, as the chat's Claim button allows);
  ends one (`handoff_end`);
- a person changes a ticket's status or notes it (`ticket_status`, `ticket_note`).

The `OperatorChange`s here are what both faces (the CLI, the console) hand the dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import LEAD_STAGES, Handoff, Lead, Rep, Ticket
from bot.turn import ContactEvent, Context, Desk, Event, OperatorChange, Reply, Result, Turn
from handlers import handoff as handoffs
from handlers import rep_desk, service
from handlers.cards import notice_to
from handlers.common import span_in_words
from handlers.due_times import parse_due
from handlers.lead_desk import Step, may_work
from handlers.lead_pipeline import lead_card, start_first_contact_clock
from handlers.reps import rep_language

LeadWork = Callable[[Context, Lead, Rep, datetime], Awaitable[Step]]
ConversationAction = Callable[[Turn, Context], Awaitable[Result | None]]


class Turns(Protocol):
    """The dispatcher, as a face holds it: a person's change runs as a turn of its own."""

    async def system_turn(self, conversation_id: int, action: ConversationAction) -> bool: ...

    async def operator_turn(self, change: OperatorChange, *, channel: str) -> bool: ...


def by_operator(events: Sequence[Event]) -> tuple[Event, ...]:
    """A person's events, taken outside a chat: the operator's (the rep id says who)."""
    return tuple(replace(e, actor=Actor.OPERATOR) if e.actor == Actor.REP else e for e in events)


def is_manager(person: Rep) -> bool:
    return person.role == "manager"


# --- leads -------------------------------------------------------------------------------------


async def lead_step(
    ctx: Context, lead_id: int, person: Rep, work: LeadWork, now: datetime
) -> Step | None:
    """`work` done by `person` on the lead, its events the operator's; None when the lead is
    gone or not theirs to work."""
    lead = await ctx.uow.leads.get(lead_id)
    if lead is None or not may_work(person, lead):
        return None
    step = await work(ctx, lead, person, now)
    return replace(step, events=by_operator(step.events))


async def change_lead(
    turns: Turns, lead: Lead, person: Rep, work: LeadWork, *, channel: str
) -> Step | None:
    """`work` by `person` as a turn of the lead's conversation (on its contact's timeline,
    recorded with `channel`, when it has none); the step, or None when nothing changed or the
    lead is not theirs to work."""
    done: list[Step] = []

    async def on_lead(ctx: Context, now: datetime) -> Step | None:
        step = await lead_step(ctx, lead.id, person, work, now)
        if step is None or not step.events:
            return None
        done.append(step)
        return step

    async def in_conversation(turn: Turn, ctx: Context) -> Result | None:
        step = await on_lead(ctx, turn.now)
        return Result(events=step.events) if step else None

    async def on_contact(ctx: Context, now: datetime) -> tuple[ContactEvent, ...] | None:
        step = await on_lead(ctx, now)
        return tuple(ContactEvent(lead.contact_id, e) for e in step.events) if step else None

    change = OperatorChange(lead.conversation_id, in_conversation, on_contact)
    await turns.operator_turn(change, channel=channel)
    return done[0] if done else None


def stage_refusal(stage: str, reason: str | None) -> str | None:
    """Why a lead cannot be moved to `stage` ("unknown_stage", "needs_reason"), or None."""
    if stage not in LEAD_STAGES:
        return "unknown_stage"
    if stage == "lost" and not (reason or "").strip():
        return "needs_reason"
    return None


def stage_line(stage: str, reason: str | None) -> str:
    """What `lead_desk.set_stage` reads: the stage, and a lost lead's reason after it."""
    return f"{stage} {(reason or '').strip()}" if stage == "lost" else stage


def reads_as_time(when: str, now: datetime, zone: ZoneInfo) -> bool:
    """Whether `when` is a time alone ("tomorrow 10:00", "in 2 hours"), nothing after it."""
    parsed = parse_due(when, now, zone)
    return parsed is not None and not parsed[1]


def next_step_line(when: str, text: str, now: datetime, zone: ZoneInfo) -> str | None:
    """What `lead_desk.next_step` reads ("tomorrow 10:00 send the offer"); None when `when`
    is not a time alone or the step is empty."""
    if not reads_as_time(when, now, zone) or not text.strip():
        return None
    return f"{when.strip()} {text.strip()}"


def assign_refusal(lead: Lead, rep: Rep) -> str | None:
    """Why `rep` cannot be given the lead ("unreachable", "closed", "already"), or None."""
    if rep.reached_at is None:
        return "unreachable"
    if not lead.open:
        return "closed"
    if lead.owner_rep_id == rep.id:
        return "already"
    return None


async def give_lead(turns: Turns, lead: Lead, rep: Rep, manager: Rep) -> bool:
    """`assign`, as a turn of the lead's conversation; False when it did not apply (the lead
    has no conversation, or it was the rep's already)."""

    async def action(turn: Turn, ctx: Context) -> Result | None:
        return await assign(turn, ctx, lead.id, rep, manager)

    return lead.conversation_id is not None and await turns.system_turn(
        lead.conversation_id, action
    )


async def assign(turn: Turn, ctx: Context, lead_id: int, rep: Rep, manager: Rep) -> Result | None:
    """The lead is `rep`'s now, by `manager`'s decision; None when it already was."""
    lead = await ctx.uow.leads.get(lead_id)
    if lead is None or lead.owner_rep_id == rep.id:
        return None
    if not await ctx.uow.leads.assign(lead.id, rep.id, turn.now):
        return None
    owned = await ctx.uow.leads.get(lead.id)
    assert owned is not None
    if lead.status == "waiting":  # nobody had been told of it: its clock starts now
        await start_first_contact_clock(ctx, owned, turn.now)
    card = await lead_card(ctx, owned, turn.conversation, rep, heading="rep.lead_assigned")
    told = [
        notice_to(
            other, ctx.say("rep.lead_given_to", rep_language(other), number=lead.id, name=rep.name)
        )
        for other in await _involved(ctx, lead, skip=(rep.id, manager.id))
    ]
    span = span_in_words(ctx, turn.lang, ctx.config.lead_sla)
    text = ctx.say("lead.accepted", turn.lang, name=rep.name, number=lead.id, span=span)
    details = {
        "lead_id": lead.id,
        "rep_id": rep.id,
        "from_rep_id": lead.owner_rep_id,
        "by_rep_id": manager.id,
    }
    return Result(
        replies=(Reply(text),),
        events=(Event(Kind.LEAD_ASSIGNED, details, Actor.OPERATOR),),
        notices=(card, *told),
    )


async def _involved(ctx: Context, lead: Lead, *, skip: tuple[int, ...]) -> list[Rep]:
    """Who had the lead or was offered it (each once), but those in `skip`."""
    found = []
    for rep_id in dict.fromkeys([lead.owner_rep_id, lead.offered_rep_id, *lead.offered_to]):
        other = await ctx.uow.reps.get(rep_id) if rep_id and rep_id not in skip else None
        if other is not None:
            found.append(other)
    return found


# --- hand-offs ---------------------------------------------------------------------------------


def may_reply(person: Rep, handoff: Handoff) -> bool:
    """A rep answers a hand-off they hold; a manager any open one."""
    if handoff.status == "claimed":
        return handoff.rep_id == person.id or is_manager(person)
    return handoff.status in ("queued", "offered") and is_manager(person)


async def reply(turn: Turn, ctx: Context, handoff_id: int, person: Rep, text: str) -> Result | None:
    """`person`'s words to the hand-off's customer (a waiting hand-off is theirs first, as when
    a manager claims it from the chat); None when they may not answer it (any longer)."""
    handoff = await ctx.uow.handoffs.get(handoff_id)
    if handoff is None or handoff.conversation_id != turn.conversation.id:
        return None
    if not text.strip() or not may_reply(person, handoff):
        return None
    if handoff.status == "claimed":
        desk = await rep_desk.answer(ctx, person, handoff, text)
    else:
        desk = await rep_desk.claim(ctx, person, handoff.id, turn.now, answer=text)
    return await _on_customer(turn, ctx, desk)


def handoff_reply(handoff: Handoff, person: Rep, text: str) -> OperatorChange:
    async def work(turn: Turn, ctx: Context) -> Result | None:
        return await reply(turn, ctx, handoff.id, person, text)

    return OperatorChange(handoff.conversation_id, work)


async def claim(turn: Turn, ctx: Context, handoff_id: int, person: Rep) -> Result | None:
    """`person` takes a waiting hand-off, under the chat's rules (rep_desk.may_claim: the rep
    it is offered to, or a manager); None when it is not theirs to take (any longer)."""
    handoff = await ctx.uow.handoffs.get(handoff_id)
    if handoff is None or handoff.conversation_id != turn.conversation.id:
        return None
    if handoff.status not in ("queued", "offered") or not rep_desk.may_claim(person, handoff):
        return None
    desk = await rep_desk.claim(ctx, person, handoff.id, turn.now, answer="")
    return await _on_customer(turn, ctx, desk)


def handoff_claim(handoff: Handoff, person: Rep) -> OperatorChange:
    async def work(turn: Turn, ctx: Context) -> Result | None:
        return await claim(turn, ctx, handoff.id, person)

    return OperatorChange(handoff.conversation_id, work)


def may_end(person: Rep, handoff: Handoff) -> bool:
    """A rep ends a hand-off they hold; a manager any open one."""
    held = handoff.status == "claimed" and handoff.rep_id == person.id
    return held or (is_manager(person) and handoff.status in ("queued", "offered", "claimed"))


def handoff_end(
    handoff: Handoff, *, returned: bool, summary: str | None, person: Rep | None = None
) -> OperatorChange:
    """Close `handoff` (or give it back to the bot) as the operator: `person` when a signed-in
    person does it (their id goes in the details), None at the command line."""

    async def work(turn: Turn, ctx: Context) -> Result | None:
        active = await ctx.uow.handoffs.active_for(turn.conversation.id)
        if active is None or active.id != handoff.id:
            return None
        if person is not None and not may_end(person, active):
            return None
        ended = await handoffs.finish(
            turn, ctx, returned=returned, summary=summary, actor=Actor.OPERATOR
        )
        return _done_by(ended, person) if ended and person else ended

    return OperatorChange(handoff.conversation_id, work)


def _done_by(result: Result, person: Rep) -> Result:
    """The operator's events of `result`, with who did it."""
    events = tuple(
        replace(e, details={**e.details, "by_rep_id": person.id})
        if e.actor == Actor.OPERATOR
        else e
        for e in result.events
    )
    return replace(result, events=events)


async def _on_customer(turn: Turn, ctx: Context, desk: Desk) -> Result | None:
    """The desk's steps on the customer's conversation, as this one turn."""
    results = [await step.action(turn, ctx) for step in desk.customer]
    return _merged(results) if results else None


def _merged(results: Sequence[Result]) -> Result:
    """Several steps of one turn as one result, their events the operator's."""
    states = [result.state for result in results if result.state is not None]
    return Result(
        replies=tuple(reply for result in results for reply in result.replies),
        events=by_operator([event for result in results for event in result.events]),
        notices=tuple(notice for result in results for notice in result.notices),
        state=states[-1] if states else None,
    )


# --- tickets -----------------------------------------------------------------------------------


def ticket_status(ticket: Ticket, status: str, person_id: int) -> OperatorChange:
    """`person_id` sets the ticket's status (service.set_status: a resolved ticket is announced
    to the customer); on the contact's timeline when the ticket has no conversation."""

    async def on_conversation(turn: Turn, ctx: Context) -> Result | None:
        return await service.set_status(turn, ctx, ticket.id, status, rep_id=person_id)

    async def on_contact(ctx: Context, now: datetime) -> tuple[ContactEvent, ...] | None:
        return await service.set_status_without_conversation(
            ctx, ticket.id, status, now, rep_id=person_id
        )

    return OperatorChange(ticket.conversation_id, on_conversation, on_contact)


def ticket_note(ticket: Ticket, text: str, person_id: int) -> OperatorChange:
    """A note of the team on the ticket (the customer is not told)."""

    async def on_conversation(turn: Turn, ctx: Context) -> Result | None:
        event = await service.add_team_note(ctx, ticket.id, text.strip(), person_id, turn.now)
        return Result(events=(event,)) if event else None

    async def on_contact(ctx: Context, now: datetime) -> tuple[ContactEvent, ...] | None:
        event = await service.add_team_note(ctx, ticket.id, text.strip(), person_id, now)
        return (ContactEvent(ticket.contact_id, event),) if event else None

    return OperatorChange(ticket.conversation_id, on_conversation, on_contact)
