"""Showing a stored message to someone on another chat as it is: a customer's photo, voice note
or PDF to the rep who has the conversation, and a rep's file to the customer.

On the message's own channel, when that channel copies messages (Telegram's copyMessage), the
outbound message names it to copy. Elsewhere the source channel gives its files — those kept
with the stored message (a mail's attachments, read once on arrival), or fetched again (Telegram)
— and the destination attaches them. Whatever cannot be had, the label (the outbound text) still
goes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from bot.model import (
    LONG_TEXT,
    ChannelAdapter,
    FileCopy,
    Original,
    OutboundMessage,
    ShowsOriginals,
)
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)


class Originals:
    def __init__(self, database: Database, adapters: Mapping[str, ChannelAdapter]) -> None:
        self._db = database
        self._adapters = adapters

    async def shown(self, message: OutboundMessage, message_id: int) -> OutboundMessage:
        """`message` carrying the stored message `message_id`: to copy, or its files (and its
        text as a file of its own when it is too long to read in a chat)."""
        original = await self._db.run(lambda uow: _original(uow, message_id))
        source = self._adapters.get(original.channel) if original else None
        same_channel = original is not None and original.channel == message.address.channel
        if same_channel and source is not None and source.capabilities.copies_messages:
            assert original is not None
            return replace(message, forward=original.key)  # the copy shows it whole
        message = await self._with_long_text(message, message_id)
        if original is None or not isinstance(source, ShowsOriginals):
            return message
        try:
            files = await source.files_of(original)
        except Exception:  # the label alone is better than no message at all
            log.exception("the files of message %s could not be fetched", message_id)
            return message
        return replace(message, files=(*message.files, *files))

    async def _with_long_text(self, message: OutboundMessage, message_id: int) -> OutboundMessage:
        text = await self._db.run(lambda uow: uow.messages.text_of(message_id)) or ""
        if len(text) <= LONG_TEXT:
            return message
        whole = FileCopy("message.txt", "text/plain", text.encode("utf-8"))
        return replace(message, files=(whole, *message.files))


async def _original(uow: UnitOfWork, message_id: int) -> Original | None:
    """The stored message with the files kept with it."""
    stored = await uow.messages.original(message_id)
    if stored is None:
        return None
    files = tuple(FileCopy(*item) for item in await uow.message_files.of(message_id))
    return Original(*stored, files=files)
