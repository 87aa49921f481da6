"""Showing a stored message to someone on another chat as it is: a customer's photo, voice note
or PDF to the rep who has the conversation, and a rep's file to the customer.

On the message's own channel, when that channel copies messages (Telegram's copyMessage), the
outbound message names it to copy. Elsewhere the source channel fetches its files and the
destination attaches them. Whatever cannot be fetched, the label (the outbound text) still goes.
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
from storage.uow import Database

log = logging.getLogger(__name__)


class Originals:
    def __init__(self, database: Database, adapters: Mapping[str, ChannelAdapter]) -> None:
        self._db = database
        self._adapters = adapters

    async def shown(self, message: OutboundMessage, message_id: int) -> OutboundMessage:
        """`message` carrying the stored message `message_id`: to copy, or its files (and its
        text as a file of its own when it is too long to read in a chat)."""
        stored = await self._db.run(lambda uow: uow.messages.original(message_id))
        source = self._adapters.get(stored[0]) if stored else None
        if stored is not None and source is not None:
            original = Original(*stored)
            if original.channel == message.address.channel and source.capabilities.copies_messages:
                return replace(message, forward=original.key)  # the copy shows it whole
        message = await self._with_long_text(message, message_id)
        if stored is None or not isinstance(source, ShowsOriginals):
            return message
        try:
            files = await source.files_of(Original(*stored))
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
