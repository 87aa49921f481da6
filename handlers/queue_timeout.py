"""A hand-off nobody claimed does not wait for ever.

When a hand-off opens, a `handoff_queue` timer is set `FlowConfig.queue_within` ahead (from the
reps' next opening when it was asked for out of hours: the customer was told to wait until
then). Should the hand-off still wait for a rep when it fires (queued, or offered and never
claimed), it ends as `timed_out`: the customer is told honestly that nobody could take it yet
and is offered to leave a message for the team (handlers/passing_on.py), every rep who was
offered the card is told it no longer waits, and the bot answers again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation, Handoff, Timer
from bot.turn import Context, Event, Notice, Result, Turn
from handlers import passing_on
from handlers.cards import notice_to
from handlers.reps import rep_language

QUEUE_TIMER = "handoff_queue"
WAITING = ("queued", "offered")


async def schedule(ctx: Context, handoff: Handoff, now: datetime) -> None:
    """Set the hand-off's queue deadline (none when QUEUE_MINUTES is 0)."""
    within = ctx.config.queue_within
    if within is None:
        return
    hours = ctx.config.rep_hours
    start = hours.next_opening(now) if hours and not hours.open_at(now) else now
    await ctx.uow.timers.schedule(
        QUEUE_TIMER,
        start + within,
        now,
        conversation_id=handoff.conversation_id,
        handoff_id=handoff.id,
    )


async def on_timer(ctx: Context, conversation: Conversation, timer: Timer, now: datetime) -> Result:
    """The deadline came: end a hand-off still waiting for a rep, and say so."""
    handoff = await ctx.uow.handoffs.get(timer.handoff_id or 0)
    if handoff is None or handoff.status not in WAITING:
        return Result()  # claimed, cancelled or ended meanwhile
    await ctx.uow.handoffs.finish(handoff.id, "timed_out", None, now)
    turn = Turn.of_system(conversation, now)
    offered = passing_on.offer(turn, ctx, "timed_out", text="handoff.timed_out")
    waited = round((now - handoff.requested_at).total_seconds() / 60, 1)
    details = {"handoff_id": handoff.id, "was": handoff.status, "waited_minutes": waited}
    return replace(
        offered,
        replies=tuple(replace(reply, proactive=True) for reply in offered.replies),
        events=(Event(Kind.HANDOFF_TIMED_OUT, details, Actor.SYSTEM),),
        notices=await _no_longer_waiting(ctx, handoff),
    )


async def _no_longer_waiting(ctx: Context, handoff: Handoff) -> tuple[Notice, ...]:
    """Word to every rep whose card of the hand-off is void now."""
    rep_ids = dict.fromkeys(rep_id for rep_id in (*handoff.offered_to, handoff.rep_id) if rep_id)
    reps = [rep for rep_id in rep_ids if (rep := await ctx.uow.reps.get(rep_id))]
    return tuple(
        notice_to(rep, ctx.say("rep.queue_timed_out", rep_language(rep), number=handoff.id))
        for rep in reps
    )
