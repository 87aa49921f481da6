"""Late messages: a message of a conversation older, by its channel's sequence, than one
already handled.

Telegram's webhook delivers a chat's updates over several connections at once, and several
instances take them, so the conversation's row lock serialises turns without ordering them:
message 6 may reach the bot after message 7. Answered then, it would run a flow step out of
order (an answer taken for the question after the one it answered) and its reply would follow
the reply to 7. So a late message is stored (the message, a `message_in` touchpoint marked
`late`) and shown where it belongs on the timeline, and nothing else: no flow step, no reply,
no hand-off, no state change. A rep reads it on the timeline.

The conversation remembers the highest sequence handled in order (`last_sequence`); the
comparison is the core's, the sequence the channel's (`InboundMessage.sequence`), and channels
without one (mail, the terminal) are never late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import AcceptResult, InboundMessage, Outcome
from bot.recorder import PREVIEW, on_conversation, record
from bot.records import Conversation
from bot.storing import store
from storage.repos.touchpoints import Placed
from storage.uow import UnitOfWork

# The timeline orders by time, then by id: a late message stands a few ticks before the
# message that overtook it, so it sorts before that turn's touchpoints and after the ones before.
TICK = timedelta(microseconds=1)


def is_late(message: InboundMessage, conversation: Conversation) -> bool:
    return conversation.handled_after(message.sequence)


async def advance(uow: UnitOfWork, message: InboundMessage, conversation: Conversation) -> None:
    """Remember a message handled in order as the newest of its conversation (a conversation
    it opened starts at it already)."""
    await uow.conversations.advance_past(conversation, message.sequence)


async def process(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation, now: datetime
) -> AcceptResult:
    """Store and show the late message; answer nothing (a redelivery stays a duplicate)."""
    assert message.sequence is not None
    if await store(uow, message, conversation.id, now) is None:
        return AcceptResult(Outcome.DUPLICATE, conversation_id=conversation.id)
    before, after = await uow.touchpoints.beside(conversation.id, Kind.MESSAGE_IN, message.sequence)
    at = place(message.sequence, before, after, message.received_at)
    details = _details(message, conversation, now)
    await record(uow, [on_conversation(conversation, Kind.MESSAGE_IN, Actor.CUSTOMER, at, details)])
    # Counted in the quarter-hour it stands in (the report's rollup), as any message in is.
    await uow.activity.mark(conversation.id, conversation.channel, conversation.active_slot, at)
    await uow.commit()
    return AcceptResult(Outcome.LATE, conversation_id=conversation.id)


def place(
    sequence: int, before: Placed | None, after: Placed | None, sent_at: datetime
) -> datetime:
    """Where the late message stands on the timeline: just before its nearest successor in
    sequence, one tick per sequence number between them, so that late messages that have the
    same successor stand in their own order whatever order they came in (each one's place
    follows from the successor's alone).

    Not when it was sent: Telegram's dates have whole seconds, so a message sent within the
    second of its predecessor's turn would stand before it, and a sender's clock ahead of ours
    after its successor. The sending time is kept in the details.
    """
    if after is None:  # its successor's touchpoint is gone (pruned): when it was sent
        return sent_at
    at = after.occurred_at - (after.sequence - sequence) * TICK
    # Thousands of messages between two turns a moment apart: at least after the predecessor.
    if before is not None and at <= before.occurred_at < after.occurred_at - TICK:
        at = before.occurred_at + TICK
    return at


def _details(message: InboundMessage, conversation: Conversation, now: datetime) -> dict[str, Any]:
    details: dict[str, Any] = {
        "text": message.text[:PREVIEW],
        "lang": conversation.current.language,
        "sequence": message.sequence,
        "late": True,
        "sent_at": message.received_at.isoformat(),
        "arrived_at": now.isoformat(),
    }
    if message.attachments:
        details["attachments"] = [item.kind for item in message.attachments]
    return details
