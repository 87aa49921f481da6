"""The one guarded way in: whatever a channel receives becomes exactly one `InboundMessage`.

Every adapter turns what it received (a Telegram update, a fetched mail) into the shared model
through `normalised`. A normaliser that raises — a field of an unexpected type, a parser bug, a
mail that breaks the standard library — does not escape into the adapter's loop: the item
becomes UNREADABLE, which the dispatcher parks as a dead letter with its raw payload, and the
adapter acknowledges it and goes on with the next one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar

from bot.model import Address, Attachment, FileCopy, InboundKind, InboundMessage, Sender

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_REASON = 500
TEXT_FIELDS = ("external_id", "text", "thread_key", "subject", "event", "reason")
OPTIONAL_TEXT_FIELDS = (
    "button",
    "shared_phone",
    "source",
    "edit_of",
    "header_id",
    "in_reply_to",
    "reply_token",
)
# The address of an item whose sender could not be read; no customer's address looks like it
# (a chat id is a number, a mail address has an @), and nothing is stored under it.
UNKNOWN_ADDRESS = "unknown"


def normalised(
    channel: str,
    normalise: Callable[[], InboundMessage],
    *,
    payload: Mapping[str, object] | None = None,
    raw: bytes | None = None,
) -> InboundMessage:
    """`normalise()`, or an UNREADABLE item keeping `payload`/`raw` when it raises."""
    return guarded(channel, normalise, _itself, message_of=_itself, payload=payload, raw=raw)


def guarded(
    channel: str,
    normalise: Callable[[], T],
    wrap: Callable[[InboundMessage], T],
    *,
    message_of: Callable[[T], InboundMessage],
    payload: Mapping[str, object] | None = None,
    raw: bytes | None = None,
) -> T:
    """`normalise()` for adapters whose normaliser returns more than the message (Telegram's
    button press id, read back with `message_of`); when it raises or returns a message that is
    not well formed, the UNREADABLE item wrapped by `wrap`."""
    try:
        result = normalise()
        well_formed(message_of(result))
    except MemoryError:
        # the process, not the item, is in trouble (a mail reader's worker at its limit says
        # so and is replaced): parking the item would blame it for that
        raise
    except Exception as error:  # the boundary: nothing a sender wrote may stop the channel
        log.warning("%s item cannot be read (%s): parking it", channel, type(error).__name__)
        return wrap(unreadable(channel, describe(error), payload=payload, raw=raw))
    return result


def well_formed(message: object) -> None:
    """Raise `TypeError` unless `message` is an `InboundMessage` of the declared field types.

    SDKs do not check what they parse (python-telegram-bot takes `"first_name": null` or a list
    for a language code as given), so the shape is checked here, once, for every channel.
    """
    if not isinstance(message, InboundMessage):
        raise TypeError(f"a normaliser returned {type(message).__name__}")
    for name in TEXT_FIELDS:
        _expect(name, getattr(message, name), str)
    for name in OPTIONAL_TEXT_FIELDS:
        _expect(name, getattr(message, name), str, type(None))
    _expect("address.channel", message.address.channel, str)
    _expect("address.value", message.address.value, str)
    _expect("sender.external_id", message.sender.external_id, str)
    _expect("sender.display_name", message.sender.display_name, str)
    _expect("sender.language_hint", message.sender.language_hint, str, type(None))
    _expect("received_at", message.received_at, datetime)
    _expect("sequence", message.sequence, int, type(None))
    for reference in message.references:
        _expect("references", reference, str)
    for attachment in message.attachments:
        _expect("attachment", attachment, Attachment)
    for item in message.files:
        _expect("file", item, FileCopy)


def _expect(name: str, value: object, *types: type) -> None:
    if not isinstance(value, types):
        raise TypeError(f"{name} is {type(value).__name__}, not {types[0].__name__}")


def _itself(message: InboundMessage) -> InboundMessage:
    return message


def unreadable(
    channel: str,
    reason: str,
    *,
    payload: Mapping[str, object] | None = None,
    raw: bytes | None = None,
) -> InboundMessage:
    """An item to park: keyed by a fingerprint of its content, so a redelivery is one row."""
    return InboundMessage(
        external_id=f"unreadable:{fingerprint(payload, raw)}",
        address=Address(channel, UNKNOWN_ADDRESS),
        sender=Sender(""),
        payload=dict(payload) if payload is not None else None,
        raw=raw,
        kind=InboundKind.UNREADABLE,
        reason=reason[:MAX_REASON],
    )


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def fingerprint(payload: Mapping[str, object] | None, raw: bytes | None) -> str:
    digest = hashlib.sha256()
    if payload is not None:
        digest.update(json.dumps(payload, sort_keys=True, default=repr).encode("utf-8", "replace"))
    if raw is not None:
        digest.update(raw)
    return digest.hexdigest()[:32]
