"""A message from a registered rep: recognised as the rep's, never as a customer's.

No contact or conversation is created for it; the message is stored, a `rep_message`
touchpoint records it, and the rep gets the rep help.
"""

from __future__ import annotations

from datetime import datetime

from bot.model import AcceptResult, InboundMessage, Outcome
from bot.storing import store
from bot.turn import Services
from handlers.reps import rep_help
from storage.repos.outbox import NewOutbound
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import UnitOfWork


async def process(
    uow: UnitOfWork, services: Services, message: InboundMessage, rep_id: int, now: datetime
) -> AcceptResult:
    if await store(uow, message, None, now) is None:
        return AcceptResult(Outcome.DUPLICATE)
    rep = await uow.reps.get(rep_id)
    assert rep is not None
    reply = rep_help(services.context(uow), rep)
    outbound = NewOutbound(channel=message.channel, address=message.address.value, text=reply.text)
    await uow.outbox.enqueue([outbound], now)
    details = {"rep_id": rep_id, "text": message.text[:200]}
    await uow.touchpoints.add(
        [NewTouchpoint("rep_message", message.channel, "rep", now, details=details)]
    )
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=1)
