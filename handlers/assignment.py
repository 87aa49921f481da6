"""Who gets a hand-off: a rep on duty who speaks the customer's language and has room.

Order: the contact's own rep (their owner, or the rep of a hand-off closed within
`same_rep_within`) when available; otherwise the rep who has waited longest since their last
assignment (round-robin fair). The chosen rep gets a card and `claim_within` to claim it (a
timer row); unclaimed, the next rep is offered it, then all managers at once; with nobody on
duty it waits in the queue for the first rep who says /online.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation, Handoff, Rep
from bot.turn import Context, Event, Notice, Result
from handlers.cards import card, notice_to
from handlers.reps import rep_language

CLAIM_TIMER = "claim_deadline"
IDLE_TIMER = "handoff_idle"
CARD_TIMER = "card_delivery"  # the card of an assignment reached the rep? (card_delivery.py)
CARD_FIRST_LOOK = timedelta(seconds=5)


async def offer_next(
    ctx: Context, handoff: Handoff, conversation: Conversation, now: datetime
) -> Result:
    """Offer the hand-off to the next rep, or to the managers, or leave it queued."""
    rep = await choose_rep(ctx, handoff, conversation, now)
    if rep is not None:
        return await offer_to(ctx, handoff, conversation, rep, now)
    return await _escalate(ctx, handoff, conversation, now)


async def someone_reachable(ctx: Context) -> bool:
    """Whether anyone could ever take a hand-off or hear of a lead: an active rep with a
    channel to reach them on (on duty or not, in hours or not)."""
    return any(_reachable(rep) for rep in await ctx.uow.reps.search())


async def choose_rep(
    ctx: Context, handoff: Handoff, conversation: Conversation, now: datetime
) -> Rep | None:
    return await pick_rep(ctx, conversation, now, skip=handoff.offered_to)


async def pick_rep(
    ctx: Context, conversation: Conversation, now: datetime, *, skip: tuple[int, ...]
) -> Rep | None:
    """The rep to offer a customer's hand-off or lead to, by the rules above (`skip`: those
    offered it already)."""
    available = [
        rep
        for rep in await ctx.uow.reps.on_duty()
        if rep.id not in skip and await _can_take(ctx, rep, conversation, now)
    ]
    preferred = await _their_rep(ctx, conversation, now)
    chosen = next((rep for rep in available if rep.id == preferred), None)
    return chosen or (available[0] if available else None)


def reachable_managers(managers: list[Rep], skip: tuple[int, ...]) -> list[Rep]:
    """The managers to escalate to: reachable, and not offered it already."""
    return [m for m in managers if m.id not in skip and _reachable(m)]


async def offer_to(
    ctx: Context, handoff: Handoff, conversation: Conversation, rep: Rep, now: datetime
) -> Result:
    await ctx.uow.handoffs.offer(handoff, rep.id, now)
    await ctx.uow.reps.update(rep.id, last_assigned_at=now)
    due = now + ctx.config.claim_within
    await ctx.uow.timers.schedule(
        CLAIM_TIMER,
        due,
        now,
        conversation_id=conversation.id,
        handoff_id=handoff.id,
        payload={"rep_id": rep.id},
    )
    notice = await card(ctx, handoff, conversation, rep)
    details = {"handoff_id": handoff.id, "rep_id": rep.id, "latency": _since(handoff, now)}
    return Result(events=(Event(Kind.REP_NOTIFIED, details, Actor.SYSTEM),), notices=(notice,))


async def reassign(
    ctx: Context,
    handoff: Handoff,
    conversation: Conversation,
    rep: Rep,
    now: datetime,
    *,
    actor: Actor,
) -> Result | None:
    """A manager gives the hand-off to `rep`: it is theirs at once (no claim needed). `actor`
    is who decided it (an operator at the CLI). The customer hears that the rep joined once
    the card has reached them (handlers/card_delivery.py)."""
    if not await ctx.uow.handoffs.assign(handoff.id, rep.id, now):
        return None
    await start_idle_clock(ctx, handoff, now)
    await ctx.uow.timers.schedule(
        CARD_TIMER,
        now + CARD_FIRST_LOOK,
        now,
        conversation_id=conversation.id,
        handoff_id=handoff.id,
        payload={"rep_id": rep.id, "since": now.isoformat(), "looks": 0},
    )
    details = {"handoff_id": handoff.id, "from_rep_id": handoff.rep_id, "rep_id": rep.id}
    notices = [await card(ctx, handoff, conversation, rep)]
    # Whoever held it or was offered it learns who has it now, as after a claim.
    for rep_id in dict.fromkeys([*handoff.offered_to, handoff.rep_id]):
        other = await ctx.uow.reps.get(rep_id) if rep_id and rep_id != rep.id else None
        if other is not None:
            told = ctx.say("rep.taken_by", rep_language(other), number=handoff.id, name=rep.name)
            notices.append(notice_to(other, told))
    return Result(events=(Event(Kind.REASSIGNED, details, actor),), notices=tuple(notices))


async def start_idle_clock(ctx: Context, handoff: Handoff, now: datetime) -> None:
    """A held hand-off goes back to the bot after `handoff_idle` of silence (a timer row)."""
    due = now + ctx.config.handoff_idle
    await ctx.uow.timers.schedule(
        IDLE_TIMER, due, now, conversation_id=handoff.conversation_id, handoff_id=handoff.id
    )


async def _escalate(
    ctx: Context, handoff: Handoff, conversation: Conversation, now: datetime
) -> Result:
    managers = reachable_managers(await ctx.uow.reps.managers(), handoff.offered_to)
    if not handoff.offered_to or not managers:
        await ctx.uow.handoffs.back_to_queue(handoff.id)
        return Result(
            events=(Event(Kind.HANDOFF_QUEUED, {"handoff_id": handoff.id}, Actor.SYSTEM),)
        )
    notices: list[Notice] = []
    for manager in managers:
        await ctx.uow.handoffs.offer(handoff, manager.id, now)
        handoff = _with_offer(handoff, manager.id)
        notices.append(await card(ctx, handoff, conversation, manager))
    details = {
        "handoff_id": handoff.id,
        "managers": [m.id for m in managers],
        "latency": _since(handoff, now),
    }
    return Result(events=(Event(Kind.ESCALATED, details, Actor.SYSTEM),), notices=tuple(notices))


async def _can_take(ctx: Context, rep: Rep, conversation: Conversation, now: datetime) -> bool:
    hours = ctx.config.rep_hours
    if not _reachable(rep) or (hours and not hours.open_at(now)):
        return False
    if conversation.current.language not in rep.languages:
        return False
    return await ctx.uow.handoffs.load_of(rep.id) < rep.capacity


async def _their_rep(ctx: Context, conversation: Conversation, now: datetime) -> int | None:
    contact = await ctx.uow.contacts.get(conversation.contact_id)
    if contact and contact.owner_rep_id:
        return contact.owner_rep_id
    return await ctx.uow.handoffs.last_rep_of_contact(
        conversation.contact_id, now - ctx.config.same_rep_within
    )


def _reachable(rep: Rep) -> bool:
    return rep.reached_at is not None


def _with_offer(handoff: Handoff, rep_id: int) -> Handoff:
    return replace(handoff, offered_to=(*handoff.offered_to, rep_id))


def _since(handoff: Handoff, now: datetime) -> float:
    return round((now - handoff.requested_at).total_seconds(), 1)
