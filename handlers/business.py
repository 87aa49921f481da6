"""The business as the engine sees it: one object the composition root builds from the
handlers and hands to the dispatcher (the `Business` seam of `bot/turn.py`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.model import InboundMessage
from bot.records import Conversation, Rep, Timer
from bot.turn import Context, Desk, Result, Routed, Turn
from handlers import identity, rep_desk, timers
from handlers.reply_caps import within_caps
from handlers.router import opened, route


class SalesDesk:
    """Leads, service requests, hand-offs and the reps' desk: the whole business."""

    async def on_message(self, turn: Turn, ctx: Context) -> Routed:
        linked = await identity.claim_verified_phone(turn, ctx)
        if linked.conversation is not None:
            turn = replace(turn, conversation=linked.conversation)
        routed = await route(turn, ctx)
        result = await within_caps(turn, ctx, routed.result)
        if linked.events:
            result = replace(result, events=(*linked.events, *result.events))
        return replace(routed, result=result, conversation=linked.conversation)

    async def on_opened(self, turn: Turn, ctx: Context) -> Result:
        return await opened(turn, ctx)

    async def on_timer(
        self, ctx: Context, conversation: Conversation, timer: Timer, now: datetime
    ) -> Result:
        return await timers.on_timer(ctx, conversation, timer, now)

    async def on_rep_message(
        self, ctx: Context, rep: Rep, message: InboundMessage, now: datetime, stored_id: int
    ) -> Desk:
        return await rep_desk.handle(ctx, rep, message, now, stored_id)
