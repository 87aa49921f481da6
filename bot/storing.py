"""How an inbound message is stored: its text made storable, its row keyed for idempotency."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.model import InboundMessage
from storage.uow import UnitOfWork

NUL = "\x00"
NUL_SYMBOL = "\u2400"  # PostgreSQL text cannot hold NUL; the visible symbol keeps the message


def storable(message: InboundMessage) -> InboundMessage:
    """The message with text every database can store (NUL shown as ␀ instead)."""
    if NUL not in message.text:
        return message
    return replace(message, text=message.text.replace(NUL, NUL_SYMBOL))


async def store(
    uow: UnitOfWork, message: InboundMessage, conversation_id: int | None, now: datetime
) -> int | None:
    return await uow.messages.insert(
        channel=message.channel,
        external_id=message.external_id,
        conversation_id=conversation_id,
        direction="in",
        text=message.text,
        payload=message.raw,
        raw=message.raw_bytes,
        now=now,
    )
