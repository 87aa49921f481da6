"""How an inbound message is stored: made storable on every engine, keyed for idempotency.

Whatever a sender wrote must fit the schema, or the turn and then the dead letter would fail
on PostgreSQL and the message come back forever: NUL (which PostgreSQL text cannot hold)
becomes "␀", lone surrogates (valid JSON, invalid UTF-8) become U+FFFD, keys longer than their
columns are replaced by a hash of themselves (still unique, still the same on redelivery) and
free text fields are cut to their column's width.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.model import Address, FileCopy, InboundMessage, Sender
from storage.repos.conversations import Arrival
from storage.repos.messages import inbound_row
from storage.uow import UnitOfWork

NUL = "\x00"
NUL_SYMBOL = "\u2400"  # PostgreSQL text cannot hold NUL; the visible symbol keeps the message
SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
MAX_KEY = 255  # external ids, thread keys, Message-IDs: the columns hold 512
MAX_ADDRESS = 320  # an identity's address column
MAX_NAME = 200
MAX_SUBJECT = 998  # RFC 5322's line limit, the column's width
MAX_FILE_NAME = 200
MAX_MIME_TYPE = 100
MAX_SEQUENCE = 2**63 - 1  # a BIGINT column's range


def storable(message: InboundMessage) -> InboundMessage:
    """The message with every field storable on both engines (unchanged when it already is)."""
    cleaned = replace(
        message,
        external_id=_key(message.external_id),
        address=_address(message.address),
        sender=_sender(message.sender),
        text=clean(message.text),
        thread_key=_key(message.thread_key),
        subject=clean(message.subject)[:MAX_SUBJECT],
        header_id=_optional_key(message.header_id),
        in_reply_to=_optional_key(message.in_reply_to),
        references=tuple(_key(item) for item in message.references),
        edit_of=_optional_key(message.edit_of),
        reply_token=_optional_key(message.reply_token),
        button=_optional_key(message.button),
        payload=_payload(message.payload),
        event=clean(message.event),
        reason=clean(message.reason),
        files=tuple(_file(item) for item in message.files),
        sequence=_sequence(message.sequence),
    )
    return message if cleaned == message else cleaned


def clean(text: str) -> str:
    """`text` without NUL and lone surrogates."""
    if NUL in text:
        text = text.replace(NUL, NUL_SYMBOL)
    if not text.isascii() and SURROGATE.search(text):
        text = SURROGATE.sub(REPLACEMENT, text)
    return text


def storable_key(value: str) -> str:
    """A key (an external id, a Message-ID, an address) as it is stored."""
    return _key(value)


def _key(value: str) -> str:
    value = clean(value)
    if len(value) <= MAX_KEY:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def _optional_key(value: str | None) -> str | None:
    return None if value is None else _key(value)


def _sequence(value: int | None) -> int | None:
    # Out of the column's range it orders nothing we could store: the message is taken as
    # in order rather than refused.
    return value if value is not None and 0 <= value <= MAX_SEQUENCE else None


def _address(address: Address) -> Address:
    value = _key(address.value)
    return address if value == address.value else Address(address.channel, value)


def _sender(sender: Sender) -> Sender:
    external_id = _key(sender.external_id)
    if len(external_id) > MAX_ADDRESS:
        external_id = external_id[:MAX_ADDRESS]
    name = clean(sender.display_name)[:MAX_NAME]
    hint = clean(sender.language_hint)[:16] if sender.language_hint is not None else None
    if (external_id, name, hint) == (sender.external_id, sender.display_name, sender.language_hint):
        return sender
    return Sender(external_id, name, hint)


def _file(item: FileCopy) -> FileCopy:
    name = clean(item.name)[:MAX_FILE_NAME]
    mime_type = clean(item.mime_type)[:MAX_MIME_TYPE]
    if (name, mime_type) == (item.name, item.mime_type):
        return item
    return FileCopy(name, mime_type, item.data)


def _payload(payload: Mapping[str, object] | None) -> Mapping[str, object] | None:
    if payload is None:
        return None
    cleaned = _json_value(payload)
    assert isinstance(cleaned, dict)
    return cleaned


def _json_value(value: Any) -> Any:
    """A value as JSON can store it on both engines: text cleaned, keys made text."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean(str(key)): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or Infinity; PostgreSQL refuses them
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean(str(value))


async def store(
    uow: UnitOfWork,
    message: InboundMessage,
    conversation_id: int | None,
    now: datetime,
    *,
    held: bool = False,
) -> int | None:
    """Store the message with its files; None when its key is already stored."""
    message_id = await uow.messages.insert(
        channel=message.channel,
        external_id=message.external_id,
        conversation_id=conversation_id,
        direction="in",
        text=message.text,
        payload=message.payload,
        raw=message.raw,
        now=now,
        held=held,
    )
    if message_id is not None:
        await _store_files(uow, message, message_id, now)
    return message_id


async def find_and_store(
    uow: UnitOfWork, message: InboundMessage, now: datetime, *, held: bool = False
) -> Arrival:
    """The conversation of `message`, locked, with the message stored in it when the
    conversation takes it in order (`storage.repos.conversations.takes_in_order`): one
    statement on PostgreSQL where finding, then `store`, would be two."""
    row = inbound_row(
        channel=message.channel,
        external_id=message.external_id,
        text=message.text,
        now=now,
        payload=message.payload,
        raw=message.raw,
        held=held,
    )
    arrival = await uow.conversations.find_storing(message.conversation_key, row, message.sequence)
    if arrival.message_id is not None:
        await _store_files(uow, message, arrival.message_id, now)
    return arrival


async def _store_files(
    uow: UnitOfWork, message: InboundMessage, message_id: int, now: datetime
) -> None:
    files = [(item.name, item.mime_type, item.data) for item in message.files]
    await uow.message_files.add(message_id, files, now)
