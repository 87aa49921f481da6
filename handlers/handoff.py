"""Hand-off to a person: the bot steps back until the hand-off ends.

Opening one offers it to a rep at once (handlers/assignment.py); while it lasts every message
of the customer is recorded and, once a rep has claimed it, relayed to that rep, and the bot
says nothing of its own. While it waits for a rep the customer is not left in silence: the bot
reminds them now and then that what they write is kept for the team, and `/cancel` ends the
wait. When no rep could ever take it, no hand-off opens at all (handlers/passing_on.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import LONG_TEXT
from bot.records import Conversation, ConversationState, Handoff, Rep, Timer
from bot.turn import Context, Event, Notice, Reply, Result, Turn
from handlers import passing_on, queue_timeout, satisfaction
from handlers.assignment import offer_next, someone_reachable
from handlers.cards import notice_to, relayed
from handlers.common import idle, menu_options, shown_time, what_they_sent
from handlers.reps import rep_language

DIGEST_TIMER = "relay_digest"
RELAY_WINDOW = timedelta(minutes=1)
# A customer waiting for a rep hears "you are waiting; /cancel..." at most this often.
REMIND_AFTER = timedelta(minutes=15)
HOLDING_TEXT = {
    "repeated_misunderstanding": "handoff.after_misses",
    "angry_customer": "handoff.angry",
    "hot_lead": "handoff.hot_lead",
}


async def request(
    turn: Turn, ctx: Context, reason: str, details: Mapping[str, object] | None = None
) -> Result:
    """Open a hand-off (or keep the open one), offer it to a rep, tell the customer honestly.

    With nobody who could ever take it, the bot offers to pass a message on instead. A
    conversation with a machine (`reply_cap`) still goes quiet: it waits in `touchpoint
    handoffs` rather than drawing one more reply.
    """
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    if active is None and reason != "reply_cap" and not await someone_reachable(ctx):
        return passing_on.offer(turn, ctx, reason)
    state = ConversationState(
        state="handoff",
        data={
            **idle(turn).data,
            "handoff_id": active.id if active else None,
            "reminded_at": turn.now.isoformat(),
        },
        language=turn.lang,
    )
    if active:
        return Result(
            replies=(Reply(ctx.say(HOLDING_TEXT.get(reason, "handoff.requested"), turn.lang)),),
            state=state,
        )
    handoff = await _open(turn, ctx, reason)
    if reason != "reply_cap":  # a machine is not offered to leave a message
        await queue_timeout.schedule(ctx, handoff, turn.now)
    offered = await offer_next(ctx, handoff, replace(turn.conversation, current=state), turn.now)
    requested = Event(
        Kind.HANDOFF_REQUESTED, {"reason": reason, "handoff_id": handoff.id, **(details or {})}
    )
    state = replace(state, data={**state.data, "handoff_id": handoff.id})
    reply = _holding_reply(turn, ctx, reason, offered)
    return Result(
        replies=(reply,), events=(requested, *offered.events), state=state, notices=offered.notices
    )


async def after_lead(turn: Turn, ctx: Context, score: int, saved: Result) -> Result:
    """A hot lead (score at least HOT_LEAD_SCORE) goes on to a sales rep, when the team has
    anyone who could take it: the lead is saved first, the customer hears both."""
    if score < ctx.config.hot_lead_score or not await someone_reachable(ctx):
        return saved
    handed = await request(turn, ctx, reason="hot_lead", details={"score": score})
    return Result(
        replies=(*saved.replies, *handed.replies),
        events=(*saved.events, *handed.events),
        notices=(*saved.notices, *handed.notices),
        state=handed.state,
    )


def _holding_reply(turn: Turn, ctx: Context, reason: str, offered: Result) -> Reply:
    """What the customer is told: a person is on the way, or honestly when one will be."""
    hours = ctx.config.rep_hours
    if hours and not hours.open_at(turn.now):
        when = shown_time(ctx, hours.next_opening(turn.now))
        return Reply(ctx.say("handoff.queued_until", turn.lang, when=when))
    if not offered.notices:
        return Reply(ctx.say("handoff.queued", turn.lang))
    return Reply(ctx.say(HOLDING_TEXT.get(reason, "handoff.requested"), turn.lang))


async def _open(turn: Turn, ctx: Context, reason: str) -> Handoff:
    handoff_id = await ctx.uow.handoffs.open(
        turn.conversation.id, turn.contact_id, reason, turn.now
    )
    handoff = await ctx.uow.handoffs.get(handoff_id)
    assert handoff is not None
    return handoff


async def while_waiting(turn: Turn, ctx: Context, handoff: Handoff) -> Result:
    """A customer's message while the hand-off waits for a rep: kept for the card of whoever
    takes it. The customer is reminded of that, and of /cancel, when the bot has not said so
    for REMIND_AFTER: "are you there?" is never met with silence, nor every line with a reply."""
    waiting = Event(Kind.CUSTOMER_WAITING, {"handoff_id": handoff.id}, Actor.CUSTOMER)
    if not _reminder_due(turn):
        return Result(events=(waiting,))
    return replace(remind(turn, ctx), events=(waiting,))


def remind(turn: Turn, ctx: Context, *before: Reply) -> Result:
    """Tell a waiting customer (after `before`) that they wait for a person and can /cancel."""
    note = Reply(ctx.say("handoff.still_waiting", turn.lang))
    data = turn.state.data.copy()
    data["reminded_at"] = turn.now.isoformat()
    return Result(replies=(*before, note), state=replace(turn.state, data=data))


def _reminder_due(turn: Turn) -> bool:
    said = turn.state.data.get("reminded_at")
    return not said or turn.now - datetime.fromisoformat(said) >= REMIND_AFTER


async def withdraw(turn: Turn, ctx: Context, handoff: Handoff) -> Result:
    """The customer calls the person off (/cancel): the hand-off ends as `cancelled`, every rep
    who holds it or was offered it is told, and the bot answers again."""
    await ctx.uow.handoffs.finish(handoff.id, "cancelled", None, turn.now)
    claimed = handoff.status == "claimed" and handoff.rep_id is not None
    holder = await ctx.uow.reps.get(handoff.rep_id or 0) if claimed else None
    text = (
        ctx.say("handoff.cancelled_with", turn.lang, name=holder.name)
        if holder
        else ctx.say("handoff.cancelled", turn.lang)
    )
    latency = round((turn.now - handoff.requested_at).total_seconds(), 1)
    details = {"handoff_id": handoff.id, "was": handoff.status, "latency": latency}
    return Result(
        replies=(Reply(text, options=menu_options(ctx, turn.lang)),),
        events=(Event(Kind.HANDOFF_CANCELLED, details, Actor.CUSTOMER),),
        state=idle(turn),
        notices=await _called_off(ctx, handoff),
    )


async def _called_off(ctx: Context, handoff: Handoff) -> tuple[Notice, ...]:
    """Word to the reps whose card of the hand-off is void now."""
    rep_ids = dict.fromkeys(rep_id for rep_id in (*handoff.offered_to, handoff.rep_id) if rep_id)
    reps = [rep for rep_id in rep_ids if (rep := await ctx.uow.reps.get(rep_id))]
    return tuple(
        notice_to(rep, ctx.say("rep.cancelled", rep_language(rep), number=handoff.id))
        for rep in reps
    )


async def while_with_team(turn: Turn, ctx: Context) -> Result:
    """A customer message during a hand-off: relayed to the rep who has it (or recorded for
    the card of whoever claims it); the bot itself says nothing."""
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    details: dict[str, object] = {"handoff_id": active.id if active else None}
    rep = (
        await ctx.uow.reps.get(active.rep_id)
        if active and active.status == "claimed" and active.rep_id
        else None
    )
    if active is None or rep is None:
        return Result(events=(Event(Kind.CUSTOMER_WAITING, details, Actor.CUSTOMER),))
    details["latency"] = round((turn.now - active.requested_at).total_seconds(), 1)
    if await _relayed_enough(ctx, active, rep, turn):
        details["held"] = True  # in the digest the timer sends (relay_digest)
        return Result(events=(Event(Kind.CUSTOMER_REPLIED, details, Actor.CUSTOMER),))
    media = bool(turn.message.attachments) and turn.message.edit_of is None
    text = what_they_sent(turn)
    long = len(turn.text) > LONG_TEXT and turn.message.edit_of is None
    original = turn.stored_id if media or long else None
    if long:  # the relay attaches the whole text (bot/originals.py)
        note = ctx.say("rep.text_attached", rep_language(rep))
        text = f"{text[:LONG_TEXT].rstrip()}…\n{note}"
    notice = await relayed(ctx, active, turn.conversation, rep, text, original=original)
    return Result(
        events=(Event(Kind.CUSTOMER_REPLIED, details, Actor.CUSTOMER),), notices=(notice,)
    )


async def _relayed_enough(ctx: Context, handoff: Handoff, rep: Rep, turn: Turn) -> bool:
    """Whether this minute's relays to the rep are used up. A customer (or a script posing as
    one) writing 200 messages must not make the company's system send 200 to its rep: past
    the cap the rest wait for one digest, a minute after the first one held."""
    address = rep.reached_at
    if address is None:
        return False
    since = turn.now - RELAY_WINDOW
    sent = await ctx.uow.outbox.relayed_since(
        address.channel, address.value, turn.conversation.id, since
    )
    if sent < ctx.config.relays_per_minute:
        return False
    if not await ctx.uow.timers.has_pending(DIGEST_TIMER, handoff_id=handoff.id):
        await ctx.uow.timers.schedule(
            DIGEST_TIMER,
            turn.now + RELAY_WINDOW,
            turn.now,
            conversation_id=turn.conversation.id,
            handoff_id=handoff.id,
            payload={"from_message": turn.stored_id},
        )
    return True


async def relay_digest(ctx: Context, conversation: Conversation, timer: Timer) -> Result:
    """The messages held back from the rep in a burst, as one message."""
    handoff = await ctx.uow.handoffs.get(timer.handoff_id or 0)
    rep = await ctx.uow.reps.get(handoff.rep_id) if handoff and handoff.rep_id else None
    if handoff is None or handoff.status != "claimed" or rep is None:
        return Result()
    first = timer.payload.get("from_message")
    texts = await ctx.uow.messages.inbound_from(conversation.id, int(first)) if first else []
    if not texts:
        return Result()
    lines = "\n".join(f"- {text}" for text in texts)
    intro = ctx.say("rep.digest", rep_language(rep), count=len(texts))
    text = f"{intro}\n{lines}"
    if len(text) > LONG_TEXT:
        text = f"{text[:LONG_TEXT].rstrip()}…"
    notice = await relayed(ctx, handoff, conversation, rep, text)
    details = {"handoff_id": handoff.id, "messages": len(texts)}
    return Result(events=(Event(Kind.RELAY_DIGEST, details, Actor.SYSTEM),), notices=(notice,))


async def active(turn: Turn, ctx: Context) -> Handoff | None:
    return await ctx.uow.handoffs.active_for(turn.conversation.id)


async def finish(
    turn: Turn, ctx: Context, *, returned: bool, summary: str | None, actor: Actor
) -> Result | None:
    """End the active hand-off (None when there is none); the bot answers again afterwards.

    `returned` means the conversation goes back to the bot rather than being resolved; `actor`
    is who ended it (the rep from their chat, an operator from the CLI, the system when idle).
    """
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    if active is None:
        return None
    status = "returned" if returned else "closed"
    await ctx.uow.handoffs.finish(active.id, status, summary, turn.now)
    kind = Kind.RETURNED_TO_BOT if returned else Kind.CLOSED
    key = "handoff.returned" if returned else "handoff.closed"
    latency = round((turn.now - active.requested_at).total_seconds(), 1)
    details = {"handoff_id": active.id, "summary": summary or "", "latency": latency}
    ended = Result(
        replies=(Reply(ctx.say(key, turn.lang)),),
        events=(Event(kind, details, actor),),
        state=idle(turn),
    )
    return _with_rating_question(turn, ctx, active, ended, actor)


def _with_rating_question(
    turn: Turn, ctx: Context, handoff: Handoff, ended: Result, actor: Actor
) -> Result:
    """A person ended a conversation they had with the customer: how did we do? Not after a
    silent one returned by the clock, nor to a machine that drew the reply cap."""
    if handoff.rep_id is None or handoff.reason == "reply_cap" or actor is Actor.SYSTEM:
        return ended
    assert ended.state is not None
    question, state, asked = satisfaction.ask(
        turn, ctx, ended.state, about="handoff", number=handoff.id, rep_id=handoff.rep_id
    )
    return replace(
        ended, replies=(*ended.replies, question), events=(*ended.events, asked), state=state
    )
