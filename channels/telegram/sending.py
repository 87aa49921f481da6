"""Sending to Telegram: long texts split, buttons as keyboards, errors classified for the relay.

No parse mode is used: customer text that ends up in a reply (a summary of their answers) is
sent as plain text, so markup characters in it can never break or inject formatting.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from bot.model import (
    OutboundMessage,
    PermanentSendError,
    QuickReply,
    SendReceipt,
    ThrottledSendError,
    TransientSendError,
)
from channels.telegram.pacing import Pacing

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # Telegram's limit, counted here in UTF-16 code units to be safe
CALLBACK_DATA_LIMIT = 64  # bytes
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


class TelegramSender:
    def __init__(self, client: Bot, pacing: Pacing) -> None:
        self._client = client
        self._pacing = pacing

    async def send(self, message: OutboundMessage) -> SendReceipt:
        chat_id = message.address.value
        self._pacing.admit(chat_id)
        try:
            return await self._send_parts(chat_id, message)
        except RetryAfter as error:
            seconds = retry_seconds(error.retry_after)
            self._pacing.pause(seconds)
            raise ThrottledSendError(
                "Telegram flood control (429)", seconds, whole_channel=True
            ) from None
        except TelegramError as error:
            raise classify(error) from None

    async def _send_parts(self, chat_id: str, message: OutboundMessage) -> SendReceipt:
        parts = split_text(message.text)
        # The customer's own message first (copied, or its files from another channel); the
        # label replies to it, so the rep sees whose it is.
        shown = await self._copy(chat_id, message.forward) if message.forward else None
        for file in message.files:
            document = await self._client.send_document(
                chat_id, InputFile(file.data, filename=file.name)
            )
            shown = shown or document.message_id
        if shown and not message.text.strip():  # a file alone (a rep's photo without words)
            return SendReceipt(external_id=f"{chat_id}:{shown}")
        sent = None
        for number, part in enumerate(parts, start=1):
            markup = keyboard(message) if number == len(parts) else None
            sent = await self._client.send_message(
                chat_id=chat_id,
                text=part,
                reply_markup=markup,
                reply_parameters=ReplyParameters(shown, allow_sending_without_reply=True)
                if shown and number == 1
                else None,
            )
        assert sent is not None
        return SendReceipt(external_id=f"{chat_id}:{sent.message_id}")

    async def _copy(self, chat_id: str, key: str) -> int | None:
        """Copy the message `chat:message` into `chat_id` (any kind: photo, sticker, voice...);
        its label follows as a reply to the copy. A message that cannot be copied any more
        (deleted, protected content) leaves the label alone rather than the rep with nothing."""
        from_chat, _, message_id = key.partition(":")
        if not message_id.isdigit():
            return None
        try:
            copied = await self._client.copy_message(chat_id, from_chat, int(message_id))
        except BadRequest as error:
            log.warning("message %s not copied to a rep: %s", key, error.message)
            return None
        return copied.message_id


def classify(error: TelegramError) -> PermanentSendError | TransientSendError:
    """The relay's decision for a Bot API error.

    Permanent errors are checked first: in python-telegram-bot `BadRequest` is a subclass of
    `NetworkError`, which would otherwise read as a passing network problem.
    """
    if isinstance(error, Forbidden):
        return PermanentSendError(f"Telegram: {error.message}", unreachable=True)
    if isinstance(error, ChatMigrated):
        return PermanentSendError(f"the group moved to chat {error.new_chat_id}")
    if isinstance(error, BadRequest):
        gone = "chat not found" in error.message.lower()
        return PermanentSendError(f"Telegram: {error.message}", unreachable=gone)
    if isinstance(error, InvalidToken):
        # Not the message's fault: keep it for when the token is fixed, and say so loudly.
        log.critical("Telegram rejects TELEGRAM_BOT_TOKEN; replies wait in the outbox")
    return TransientSendError(f"Telegram: {type(error).__name__}: {error.message}")


def keyboard(message: OutboundMessage) -> Markup:
    if message.contact_button:
        button = KeyboardButton(message.contact_button, request_contact=True)
        return ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
    buttons = [_inline(option) for option in message.options if _fits(option)]
    return InlineKeyboardMarkup([[button] for button in buttons]) if buttons else None


def _inline(option: QuickReply) -> InlineKeyboardButton:
    return InlineKeyboardButton(option.label[:64], callback_data=option.data)


def _fits(option: QuickReply) -> bool:
    fits = 0 < len(option.data.encode()) <= CALLBACK_DATA_LIMIT
    if not fits:
        log.warning("button %r left out: its data does not fit Telegram's 64 bytes", option.label)
    return fits


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` UTF-16 units, cut at paragraph, then line, then word breaks."""
    text = text.strip() or "…"
    parts: list[str] = []
    while _units(text) > limit:
        cut = _cut_point(text, limit)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [part for part in parts if part]


def _cut_point(text: str, limit: int) -> int:
    window = _prefix_within(text, limit)
    for separator in ("\n\n", "\n", " "):
        position = text.rfind(separator, 0, window)
        if position > window // 2:
            return position + len(separator)
    return window


def _prefix_within(text: str, limit: int) -> int:
    """The longest prefix length (in characters) whose UTF-16 size is within `limit`."""
    size = 0
    for index, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > limit:
            return index
    return len(text)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def retry_seconds(retry_after: object) -> float:
    # python-telegram-bot 22 gives an int (a timedelta once PTB_TIMEDELTA is on).
    total = getattr(retry_after, "total_seconds", None)
    return float(total() if callable(total) else retry_after)  # type: ignore[arg-type]
