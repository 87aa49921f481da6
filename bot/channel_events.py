"""Channel events: state changes reported by a channel rather than messages from a person.

- `blocked` / `unblocked`: the person blocked or unblocked the bot (Telegram's my_chat_member).
  Blocked makes the identity unreachable: replies and follow-ups to it stop without a send;
  unblocked makes it reachable again.
- `group_addressed`: someone addressed the bot in a group; the bot answers in private only, so
  the group gets one short pointer and nothing starts there (never a lead by accident).
- `bounced` / `delayed`: a delivery report about one of our mails (`in_reply_to` names it, the
  sender is the failed recipient). A permanent failure makes that address unreachable.
- `auto_reply`, `bulk`, `report`, `loop`: mail that is not a person writing (the filter chain's
  verdict, its reason in the text). Recorded as `<kind>_ignored`, never answered.
"""

from __future__ import annotations

from datetime import datetime

from bot.model import AcceptResult, InboundMessage, Outcome
from bot.records import Conversation
from bot.storing import store
from bot.turn import Services
from storage.repos.outbox import NewOutbound
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import UnitOfWork

BLOCKED_REASON = "blocked the bot"
BOUNCES = ("bounced", "delayed")
TOUCHPOINT_KINDS = {
    "auto_reply": "auto_reply_ignored",
    "bulk": "bulk_ignored",
    "report": "report_ignored",
    "loop": "loop_ignored",
}


async def record(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> AcceptResult:
    conversation = await _conversation_of(uow, message)
    if await store(uow, message, conversation.id if conversation else None, now) is None:
        return AcceptResult(Outcome.DUPLICATE)
    replies = 0
    if message.note in ("blocked", "unblocked"):
        await _reachability(uow, message)
    elif message.note == "group_addressed":
        replies = await _point_to_private_chat(uow, services, message, now)
    elif message.note in BOUNCES:
        await uow.touchpoints.add([await _bounce(uow, message, conversation, now)])
        await uow.commit()
        return AcceptResult(Outcome.HANDLED)
    await uow.touchpoints.add([await _touchpoint(uow, message, conversation, now)])
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=replies)


async def _bounce(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation | None, now: datetime
) -> NewTouchpoint:
    """Map the report back to the conversation of our mail; a permanent one ends delivery."""
    recipient = message.sender.external_id or (conversation.address if conversation else "")
    if message.note == "bounced" and recipient:
        await uow.contacts.set_reachable(message.channel, recipient, f"bounced: {message.text}")
    return NewTouchpoint(
        kind=message.note,
        channel=message.channel,
        actor="system",
        occurred_at=now,
        contact_id=conversation.contact_id if conversation else None,
        conversation_id=conversation.id if conversation else None,
        details={
            "recipient": recipient,
            "our_message": message.in_reply_to,
            "reason": message.text,
        },
    )


async def _reachability(uow: UnitOfWork, message: InboundMessage) -> None:
    reason = BLOCKED_REASON if message.note == "blocked" else None
    await uow.contacts.set_reachable(message.channel, message.sender.external_id, reason)


async def _point_to_private_chat(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> int:
    lang = (message.sender.language_hint or "")[:2]
    text = services.texts.get("group.private_only", lang if lang in ("en", "ru") else "en")
    outbound = NewOutbound(channel=message.channel, address=message.address.value, text=text)
    await uow.outbox.enqueue([outbound], now)
    return 1


async def _conversation_of(uow: UnitOfWork, message: InboundMessage) -> Conversation | None:
    """The conversation the item answers: through our Message-IDs it quotes (an out-of-office
    answering our mail), else the one of its chat."""
    ids = [*([message.in_reply_to] if message.in_reply_to else []), *reversed(message.references)]
    found = await uow.outbox.conversations_of_message_ids(ids)
    if found:
        return await uow.conversations.get(found[0])
    return await uow.conversations.find(message.channel, message.conversation_key)


async def _touchpoint(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation | None, now: datetime
) -> NewTouchpoint:
    contact_id = await uow.contacts.owner_of(message.channel, message.sender.external_id)
    ignored = message.note in TOUCHPOINT_KINDS
    details = {"external_id": message.external_id}
    return NewTouchpoint(
        kind=TOUCHPOINT_KINDS.get(message.note, message.note),
        channel=message.channel,
        actor="system" if ignored else "customer",
        occurred_at=now,
        contact_id=contact_id,
        conversation_id=conversation.id if conversation else None,
        details={**details, "reason": message.text} if ignored else details,
    )
