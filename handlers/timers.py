"""What each kind of durable timer does when it fires."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.kinds import FLOOD_RELEASE_TIMER, Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Conversation, Timer
from bot.turn import Context, Event, Result, Turn
from handlers import card_delivery, lead_pipeline, queue_timeout, service
from handlers import handoff as handoffs
from handlers.assignment import CARD_TIMER, CLAIM_TIMER, IDLE_TIMER, offer_next
from handlers.cards import notice_to
from handlers.reps import rep_language
from handlers.router import route


async def on_timer(ctx: Context, conversation: Conversation, timer: Timer, now: datetime) -> Result:
    if timer.kind == service.FOLLOWUP_KIND:
        return await service.on_followup(ctx, conversation, timer.ticket_id, now)
    if timer.kind == CLAIM_TIMER:
        return await claim_deadline(ctx, conversation, timer, now)
    if timer.kind == IDLE_TIMER:
        return await handoff_idle(ctx, conversation, timer, now)
    if timer.kind == handoffs.DIGEST_TIMER:
        return await handoffs.relay_digest(ctx, conversation, timer)
    if timer.kind in lead_pipeline.TIMERS:
        return await lead_pipeline.on_timer(ctx, conversation, timer, now)
    if timer.kind == CARD_TIMER:
        return await card_delivery.on_timer(ctx, conversation, timer, now)
    if timer.kind == queue_timeout.QUEUE_TIMER:
        return await queue_timeout.on_timer(ctx, conversation, timer, now)
    if timer.kind == FLOOD_RELEASE_TIMER:
        return await read_held(ctx, conversation, now)
    return Result(
        events=(Event(Kind.TIMER_UNKNOWN, {"kind": timer.kind, "timer": timer.id}, Actor.SYSTEM),)
    )


async def read_held(ctx: Context, conversation: Conversation, now: datetime) -> Result:
    """The messages held in a flood, read as one turn when the sender said nothing more
    (their next message would have taken them up, bot/floods.py)."""
    texts = await ctx.uow.messages.release_held(conversation.id)
    if not texts:
        return Result()
    turn = Turn.of_system(conversation, now)
    joined = replace(turn.message, text="\n".join(texts))
    return (await route(replace(turn, message=joined), ctx)).result


async def claim_deadline(
    ctx: Context, conversation: Conversation, timer: Timer, now: datetime
) -> Result:
    """The offered rep did not claim in time: the next rep, then the managers, then the queue."""
    handoff = await ctx.uow.handoffs.get(timer.handoff_id or 0)
    rep_id = timer.payload.get("rep_id")
    if handoff is None or handoff.status != "offered" or handoff.rep_id != rep_id:
        return Result()  # claimed, ended or offered to somebody else meanwhile
    expired = Event(Kind.CLAIM_EXPIRED, {"handoff_id": handoff.id, "rep_id": rep_id}, Actor.SYSTEM)
    following = await offer_next(ctx, handoff, conversation, now)
    return Result(events=(expired, *following.events), notices=following.notices)


async def handoff_idle(
    ctx: Context, conversation: Conversation, timer: Timer, now: datetime
) -> Result:
    """Back to the bot after `handoff_idle` without a message either way; otherwise look again
    when that much time has passed since the last one."""
    handoff = await ctx.uow.handoffs.get(timer.handoff_id or 0)
    if handoff is None or handoff.status != "claimed":
        return Result()
    last = await ctx.uow.messages.last_activity(conversation.id) or handoff.claimed_at or now
    if now - last < ctx.config.handoff_idle:
        due = last + ctx.config.handoff_idle
        await ctx.uow.timers.schedule(
            IDLE_TIMER, due, now, conversation_id=conversation.id, handoff_id=handoff.id
        )
        return Result()
    turn = Turn.of_system(conversation, now)
    ended = await handoffs.finish(
        turn, ctx, returned=True, summary="no activity", actor=Actor.SYSTEM
    )
    rep = await ctx.uow.reps.get(handoff.rep_id) if handoff.rep_id else None
    if ended is None or rep is None:
        return ended or Result()
    told = notice_to(rep, ctx.say("rep.idle_returned", rep_language(rep), number=handoff.id))
    back = tuple(replace(reply, proactive=True) for reply in ended.replies)
    return Result(replies=back, events=ended.events, state=ended.state, notices=(told,))
