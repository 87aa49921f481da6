"""Sending to Telegram: long texts split, buttons as keyboards, errors classified for the relay.

No parse mode is used: customer text that ends up in a reply (a summary of their answers) is
sent as plain text, so markup characters in it can never break or inject formatting.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from functools import partial

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
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
from telegram.warnings import PTBUserWarning

from bot.model import (
    FileCopy,
    OutboundMessage,
    PermanentSendError,
    QuickReply,
    SendReceipt,
    ThrottledSendError,
    TransientSendError,
)
from channels.telegram.pacing import Pacing

log = logging.getLogger(__name__)

# Texts go through `do_api_request` on purpose (see `TelegramSender._text`).
warnings.filterwarnings("ignore", message=".*Bot.sendMessage.*", category=PTBUserWarning)

TEXT_LIMIT = 4096  # Telegram's limit, counted here in UTF-16 code units to be safe
CALLBACK_DATA_LIMIT = 64  # bytes
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


Step = Callable[[int | None], Awaitable[int | None]]


class TelegramSender:
    """Sends one outbound message as its parts: the customer's message shown first (copied,
    or its files as documents), then the text in pieces of at most 4096 units.

    Each part takes its own pacing slot. A part that is held back (pacing, a 429) or fails
    reports how many parts went out before it (`parts_done` on the error), and the next try
    starts after them: no part is sent twice, however often a long message is interrupted.
    """

    def __init__(self, client: Bot, pacing: Pacing) -> None:
        self._client = client
        self._pacing = pacing

    async def send(self, message: OutboundMessage) -> SendReceipt:
        chat_id = message.address.value
        steps, showing = self._steps(chat_id, message)
        shown: int | None = None  # the first part that shows the customer's message, if sent now
        last: int | None = None
        for index, step in enumerate(steps):
            if index < message.parts_done:
                continue
            sent = await self._step(chat_id, step, shown, done=index)
            if index < showing and shown is None:
                shown = sent
            last = sent if sent is not None else last
        return SendReceipt(external_id=f"{chat_id}:{last}" if last is not None else None)

    async def _step(self, chat_id: str, step: Step, shown: int | None, *, done: int) -> int | None:
        try:
            self._pacing.admit(chat_id)
            return await step(shown)
        except ThrottledSendError as error:
            raise ThrottledSendError(
                error.reason, error.retry_after or 1.0, whole_channel=error.whole_channel,
                parts_done=done,
            ) from None  # fmt: skip
        except RetryAfter as error:
            seconds = retry_seconds(error.retry_after)
            self._pacing.pause(seconds)
            raise ThrottledSendError(
                "Telegram flood control (429)", seconds, whole_channel=True, parts_done=done
            ) from None
        except TelegramError as error:
            raise classify(error, parts_done=done) from None

    def _steps(self, chat_id: str, message: OutboundMessage) -> tuple[list[Step], int]:
        """The parts of `message` in order, and how many of them show the customer's message.
        A step gets the id of the message shown (the label replies to it) and returns the id
        of what it sent."""
        steps: list[Step] = []
        if message.forward:
            key = message.forward
            steps.append(lambda _shown: self._copy(chat_id, key))
        for file in message.files:
            steps.append(partial(self._document, chat_id, file))
        parts = split_text(message.text) if message.text.strip() or not steps else []
        for number, part in enumerate(parts, start=1):
            markup = keyboard(message) if number == len(parts) else None
            steps.append(
                partial(
                    self._text, chat_id, part, markup, first=number == 1,
                    previews=message.link_previews,
                )
            )  # fmt: skip
        return steps, len(steps) - len(parts)

    async def _document(self, chat_id: str, file: FileCopy, _shown: int | None) -> int:
        sent = await self._client.send_document(chat_id, InputFile(file.data, filename=file.name))
        return sent.message_id

    async def _text(
        self,
        chat_id: str,
        text: str,
        markup: Markup,
        shown: int | None,
        *,
        first: bool,
        previews: bool = True,
    ) -> int | None:
        params: dict[str, object] = {"chat_id": chat_id, "text": text}
        if markup is not None:
            params["reply_markup"] = markup
        if shown and first:
            params["reply_parameters"] = ReplyParameters(shown, allow_sending_without_reply=True)
        if not previews:  # a preview is Telegram fetching the link; a one-time link must not be
            params["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        # Through `do_api_request`: the answer stays the raw dict, of which only the id is read
        # (`send_message` would build a whole `Message` from it: 6 % of the event loop's work).
        return message_id(await self._client.do_api_request("sendMessage", api_kwargs=params))

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


def message_id(sent: object) -> int | None:
    """The id of a message the Bot API answered with, if its answer has one."""
    number = sent.get("message_id") if isinstance(sent, dict) else None
    return number if type(number) is int else None


def classify(
    error: TelegramError, *, parts_done: int | None = None
) -> PermanentSendError | TransientSendError:
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
    return TransientSendError(
        f"Telegram: {type(error).__name__}: {error.message}", parts_done=parts_done
    )


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
