"""Reply caps: the brake on a conversation with another machine.

An autoresponder that carries none of the headers the filter chain knows, or a second bot,
would answer every reply with a reply. So on channels that machines answer (email) the bot
writes at most `per_conversation` replies to one conversation and `per_address` to one address
in 24 hours; past that it stops answering and asks a person in, silently (a holding message
would be one more reply to the machine).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.turn import Context, Event, Result, Turn
from handlers import handoff

WINDOW = timedelta(hours=24)


async def within_caps(turn: Turn, ctx: Context, result: Result) -> Result:
    """`result`, or a silent hand-off instead when its replies would pass a cap."""
    config = ctx.config
    capabilities = ctx.capabilities(turn.conversation.channel)
    if not result.replies or not capabilities.answered_by_machines:
        return result
    since = turn.now - WINDOW
    conversation = turn.conversation
    to_conversation, to_address = await ctx.uow.outbox.replies_since(
        since, conversation.id, conversation.channel, conversation.address
    )
    if (
        to_conversation < config.replies_per_conversation
        and to_address < config.replies_per_address
    ):
        return result
    return await _stop_answering(turn, ctx, to_conversation, to_address)


async def _stop_answering(
    turn: Turn, ctx: Context, to_conversation: int, to_address: int
) -> Result:
    handed = await handoff.request(turn, ctx, reason="reply_cap")
    details = {"replies_to_conversation": to_conversation, "replies_to_address": to_address}
    capped = Event(Kind.REPLY_CAP_REACHED, details, Actor.SYSTEM)
    return replace(handed, replies=(), events=(capped, *handed.events))
