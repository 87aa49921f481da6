"""Hand-off to a person: the bot steps back and stays silent until the hand-off ends.

The rep side (notification, claim, relay of answers) builds on the rows written here.
"""

from __future__ import annotations

from bot.turn import Context, Event, Reply, Result, Turn
from handlers.common import idle
from storage.records import ConversationState

HOLDING_TEXT = {"repeated_misunderstanding": "handoff.after_misses"}


async def request(turn: Turn, ctx: Context, reason: str) -> Result:
    """Open a hand-off (or keep the open one) and tell the customer a person will answer."""
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    handoff_id = active.id if active else await _open(turn, ctx, reason)
    state = ConversationState(
        state="handoff",
        data={**idle(turn).data, "handoff_id": handoff_id},
        language=turn.lang,
    )
    reply = Reply(ctx.say(HOLDING_TEXT.get(reason, "handoff.requested"), turn.lang))
    events = (
        ()
        if active
        else (Event("handoff_requested", {"reason": reason, "handoff_id": handoff_id}),)
    )
    return Result(replies=(reply,), events=events, state=state)


async def _open(turn: Turn, ctx: Context, reason: str) -> int:
    return await ctx.uow.handoffs.open(turn.conversation.id, turn.contact_id, reason, turn.now)


async def while_with_team(turn: Turn, ctx: Context) -> Result:
    """A customer message during a hand-off: recorded for the rep, never answered by the bot."""
    details = {"handoff_id": turn.state.data.get("handoff_id")}
    return Result(events=(Event("customer_waiting", details, "customer"),))


async def is_active(turn: Turn, ctx: Context) -> bool:
    return await ctx.uow.handoffs.active_for(turn.conversation.id) is not None


async def finish(turn: Turn, ctx: Context, *, returned: bool, summary: str | None) -> Result | None:
    """End the active hand-off (None when there is none); the bot answers again afterwards.

    `returned` means the rep handed the conversation back to the bot rather than resolving it.
    """
    active = await ctx.uow.handoffs.active_for(turn.conversation.id)
    if active is None:
        return None
    status = "returned" if returned else "closed"
    await ctx.uow.handoffs.finish(active.id, status, summary, turn.now)
    kind = "returned_to_bot" if returned else "closed"
    key = "handoff.returned" if returned else "handoff.closed"
    details = {"handoff_id": active.id, "summary": summary or ""}
    return Result(
        replies=(Reply(ctx.say(key, turn.lang)),),
        events=(Event(kind, details, "rep"),),
        state=idle(turn),
    )
