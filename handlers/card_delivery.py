"""A manager's assignment is announced to the customer only once the card reached the rep.

`touchpoint handoffs assign` makes the hand-off the rep's at once and queues their card; the
customer hears "{rep} has joined" only when the card's outbox row is sent. A `card_delivery`
timer looks at the row: sent → the customer is told; failed (or never queued: the rep has no
address left) → the assignment is undone, the hand-off is offered to the next rep (or waits),
and the managers are told; still on its way → it looks again, less often each time. The timer is
a row, so a restart in between changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation, Handoff, Rep, Timer
from bot.turn import Context, Event, Reply, Result
from handlers import queue_timeout
from handlers.assignment import CARD_FIRST_LOOK, CARD_TIMER, offer_next
from handlers.cards import notice_to
from handlers.reps import rep_language

LONGEST_WAIT = timedelta(minutes=5)
FAILED_TEXT = "rep.assignment_failed"


async def on_timer(ctx: Context, conversation: Conversation, timer: Timer, now: datetime) -> Result:
    handoff = await ctx.uow.handoffs.get(timer.handoff_id or 0)
    rep_id = timer.payload.get("rep_id")
    rep = await ctx.uow.reps.get(int(rep_id)) if isinstance(rep_id, int) else None
    if handoff is None or rep is None or handoff.status != "claimed" or handoff.rep_id != rep.id:
        return Result()  # ended, or given to somebody else meanwhile
    status = await _card_status(ctx, conversation, rep, str(timer.payload.get("since")))
    if status == "sent":
        joined = ctx.say("handoff.rep_joined", conversation.current.language, name=rep.name)
        return Result(replies=(Reply(joined),))
    if status in ("pending", "sending"):
        await _look_again(ctx, timer, now)
        return Result()
    return await _undo(ctx, handoff, conversation, rep, now)


async def _card_status(
    ctx: Context, conversation: Conversation, rep: Rep, since: str
) -> str | None:
    address = rep.reached_at
    if address is None:
        return None
    return await ctx.uow.outbox.card_status(
        address.channel, address.value, conversation.id, datetime.fromisoformat(since)
    )


async def _look_again(ctx: Context, timer: Timer, now: datetime) -> None:
    looks = int(timer.payload.get("looks", 0)) + 1
    wait = min(CARD_FIRST_LOOK * 2**looks, LONGEST_WAIT)
    await ctx.uow.timers.schedule(
        CARD_TIMER,
        now + wait,
        now,
        conversation_id=timer.conversation_id,
        handoff_id=timer.handoff_id,
        payload={**timer.payload, "looks": looks},
    )


async def _undo(
    ctx: Context, handoff: Handoff, conversation: Conversation, rep: Rep, now: datetime
) -> Result:
    """The card could not reach the rep: the hand-off waits for a rep again (not this one)."""
    await ctx.uow.handoffs.unassign(handoff.id, rep.id)
    waiting = replace(
        handoff, status="queued", rep_id=None, offered_to=(*handoff.offered_to, rep.id)
    )
    await queue_timeout.schedule(ctx, waiting, now)
    following = await offer_next(ctx, waiting, conversation, now)
    managers = [m for m in await ctx.uow.reps.managers() if m.id != rep.id and m.reached_at]
    told = tuple(
        notice_to(
            m, ctx.say("rep.assignment_failed", rep_language(m), number=handoff.id, name=rep.name)
        )
        for m in managers
    )
    failed = Event(
        Kind.ASSIGNMENT_FAILED, {"handoff_id": handoff.id, "rep_id": rep.id}, Actor.SYSTEM
    )
    return Result(events=(failed, *following.events), notices=(*told, *following.notices))
