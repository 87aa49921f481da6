"""What each kind of durable timer does when it fires."""

from __future__ import annotations

from datetime import datetime

from bot.turn import Context, Event, Result
from handlers import service
from storage.records import Conversation, FollowUp


async def on_timer(
    ctx: Context, conversation: Conversation, timer: FollowUp, now: datetime
) -> Result:
    if timer.kind == service.FOLLOWUP_KIND:
        return await service.on_followup(ctx, conversation, timer.ticket_id, now)
    return Result(
        events=(Event("timer_unknown", {"kind": timer.kind, "timer": timer.id}, "system"),)
    )
