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

from bot.kinds import Actor, TouchpointKind
from bot.model import AcceptResult, InboundMessage, Outcome
from bot.recorder import Touch, queue, record
from bot.records import Conversation
from bot.storing import store
from bot.turn import Services
from storage.repos.outbox import NewOutbound
from storage.uow import UnitOfWork

BLOCKED_REASON = "blocked the bot"
BOUNCES = ("bounced", "delayed")
IGNORED_KINDS = {
    "auto_reply": TouchpointKind.AUTO_REPLY_IGNORED,
    "bulk": TouchpointKind.BULK_IGNORED,
    "report": TouchpointKind.REPORT_IGNORED,
    "loop": TouchpointKind.LOOP_IGNORED,
}
EVENT_KINDS = {
    "blocked": TouchpointKind.BLOCKED,
    "unblocked": TouchpointKind.UNBLOCKED,
    "group_addressed": TouchpointKind.GROUP_ADDRESSED,
}


async def process(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> AcceptResult:
    conversation = await _conversation_of(uow, message)
    if await store(uow, message, conversation.id if conversation else None, now) is None:
        return AcceptResult(Outcome.DUPLICATE)
    replies = 0
    if message.event in ("blocked", "unblocked"):
        await _reachability(uow, message)
    elif message.event == "group_addressed":
        replies = await _point_to_private_chat(uow, services, message, now)
    elif message.event in BOUNCES:
        await record(uow, [await _bounce(uow, message, conversation, now)])
        await uow.commit()
        return AcceptResult(Outcome.HANDLED)
    await record(uow, [await _touch(uow, message, conversation, now)])
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=replies)


async def _bounce(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation | None, now: datetime
) -> Touch:
    """Map the report back to the conversation of our mail. A permanent failure ends delivery
    to the address only when the report names a mail we sent to that very address (by its
    Message-ID): anybody can write a delivery report about anybody."""
    recipient = message.sender.external_id or (conversation.address if conversation else "")
    ours = [message.in_reply_to] if message.in_reply_to else []
    proven = bool(recipient) and await uow.outbox.sent_to(message.channel, recipient, ours)
    if message.event == "bounced" and proven:
        await uow.contacts.set_reachable(message.channel, recipient, f"bounced: {message.text}")
    return Touch(
        kind=TouchpointKind(message.event),
        channel=message.channel,
        actor=Actor.SYSTEM,
        occurred_at=now,
        contact_id=conversation.contact_id if conversation else None,
        conversation_id=conversation.id if conversation else None,
        details={
            "recipient": recipient,
            "our_message": message.in_reply_to,
            "reason": message.text,
            "acted": proven,  # False: no mail of ours to that address has that Message-ID
        },
    )


async def _reachability(uow: UnitOfWork, message: InboundMessage) -> None:
    reason = BLOCKED_REASON if message.event == "blocked" else None
    await uow.contacts.set_reachable(message.channel, message.sender.external_id, reason)


async def _point_to_private_chat(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> int:
    lang = (message.sender.language_hint or "")[:2]
    text = services.texts.get("group.private_only", lang if lang in ("en", "ru") else "en")
    outbound = NewOutbound(channel=message.channel, address=message.address.value, text=text)
    await queue(uow, [outbound], now)
    return 1


async def _conversation_of(uow: UnitOfWork, message: InboundMessage) -> Conversation | None:
    """The conversation the item answers: through our Message-IDs it quotes (an out-of-office
    answering our mail), else the one of its chat."""
    ids = [*([message.in_reply_to] if message.in_reply_to else []), *reversed(message.references)]
    found = await uow.outbox.conversations_of_header_ids(ids)
    if found:
        return await uow.conversations.get(found[0])
    return await uow.conversations.find(message.channel, message.conversation_key)


async def _touch(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation | None, now: datetime
) -> Touch:
    contact_id = await uow.contacts.owner_of(message.channel, message.sender.external_id)
    ignored = message.event in IGNORED_KINDS
    details = {"external_id": message.external_id}
    return Touch(
        kind=IGNORED_KINDS.get(message.event) or EVENT_KINDS[message.event],
        channel=message.channel,
        actor=Actor.SYSTEM if ignored else Actor.CUSTOMER,
        occurred_at=now,
        contact_id=contact_id,
        conversation_id=conversation.id if conversation else None,
        details={**details, "reason": message.text} if ignored else details,
    )
