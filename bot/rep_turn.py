"""A message from a registered rep: a command, a claim, or an answer for a customer.

No contact or conversation is created for the rep. The rep's message is stored and recorded as
a `rep_message`; what it does to a customer's conversation (claim, answer, close) runs as a turn
of that conversation — locked, with its touchpoints and the customer's replies recorded there —
inside this same transaction; what the bot answers the rep goes to the rep's own chat.
"""

from __future__ import annotations

from datetime import datetime

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import AcceptResult, InboundMessage, Outcome
from bot.recorder import Touch, queue, queue_notices, record, record_turn
from bot.storing import store
from bot.turn import CustomerAction, Routed, Services, Turn
from storage.repos.outbox import NewOutbound
from storage.uow import UnitOfWork


async def process(
    uow: UnitOfWork, services: Services, message: InboundMessage, rep_id: int, now: datetime
) -> AcceptResult:
    stored_id = await store(uow, message, None, now)
    if stored_id is None:
        return AcceptResult(Outcome.DUPLICATE)
    rep = await uow.reps.get(rep_id)
    assert rep is not None
    ctx = services.context(uow)
    desk = await services.business.on_rep_message(ctx, rep, message, now, stored_id)
    # The rep's confirmation first, then what the action sends (a card, the customer's reply).
    token = None
    if not services.capabilities(message.channel).proves_sender:
        token = await uow.reps.reply_token_of(rep_id)
    await queue(uow, [_to_rep(message, text, desk.about, token) for text in desk.to_rep], now)
    queued = 0
    for step in desk.customer:
        queued += await _on_conversation(uow, services, step, now)
    await queue_notices(uow, desk.notices, services, now)
    details = {"rep_id": rep_id, "text": message.text[:200], "conversation_id": desk.about}
    touches = [Touch(Kind.REP_MESSAGE, Actor.REP, message.channel, now, details)]
    touches += [Touch(e.kind, e.actor, message.channel, now, e.details) for e in desk.events]
    await record(uow, touches)
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=queued + len(desk.to_rep) + len(desk.notices))


async def _on_conversation(
    uow: UnitOfWork, services: Services, step: CustomerAction, now: datetime
) -> int:
    conversation = await uow.conversations.get(step.conversation_id, lock=True)
    if conversation is None:
        return 0
    turn = Turn.of_system(conversation, now)
    result = await step.action(turn, services.context(uow))
    return await record_turn(uow, turn, Routed(result), services)


def _to_rep(
    message: InboundMessage, text: str, about: int | None, token: str | None
) -> NewOutbound:
    # Answering the bot's confirmation answers the customer it was about, like a card.
    return NewOutbound(
        channel=message.channel,
        address=message.address.value,
        text=text,
        relay_conversation_id=about,
        in_reply_to=message.header_id,
        references=[message.header_id] if message.header_id else [],
        subject=message.subject,
        reply_token=token,
    )
