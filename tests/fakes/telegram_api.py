"""The Bot API methods the fake implements, with the checks Telegram makes.
Each handler takes decoded parameters and returns the `result`, or raises ApiError."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.telegram_chats import JSON, Chats, now
from tests.fakes.telegram_errors import (
    BLOCKED,
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_TOO_OLD,
    WEBHOOK_CONFLICT,
    ApiError,
    Fault,
)
from tests.fakes.telegram_queue import PollSuperseded, UpdateQueue
from tests.fakes.telegram_records import SentMessage
from tests.fakes.telegram_text import EntityError, visible_text

MAX_TEXT = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200
# What copyMessage does not carry over: the copy is a new message of the bot's, in another chat.
NOT_COPIED = frozenset(
    {"message_id", "from", "chat", "date", "edit_date", "reply_to_message", "forward_origin"}
)
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
Handler = Callable[[JSON], Awaitable[Any]]


class BotApi:
    def __init__(self, bot_user: JSON, chats: Chats, queue: UpdateQueue) -> None:
        self.bot_user = bot_user
        self.sent: list[SentMessage] = []
        self.answered_callbacks: list[JSON] = []
        self.open_callbacks: set[str] = set()
        self.faults: list[Fault] = []
        self.webhook: JSON = {}
        self.commands: list[Any] = []
        self.files: dict[str, bytes] = {}  # file_id → content, served by getFile and its URL
        self._chats = chats
        self._queue = queue
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._handlers().items()
        }

    def canonical(self, method: str) -> str:
        """Telegram method names are case-insensitive; calls are recorded under the usual one."""
        return self._methods.get(method.lower(), (method, None))[0]

    async def call(self, method: str, params: JSON) -> Any:
        self._raise_fault(method, params)
        if method.lower() not in self._methods:
            raise ApiError(404, "Not Found")
        try:
            return await self._methods[method.lower()][1](params)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            # A parameter of the wrong shape: Telegram answers 400, it never fails with 500.
            raise ApiError(400, f"Bad Request: {error}") from None

    def _raise_fault(self, method: str, params: JSON) -> None:
        for scripted in self.faults:
            if scripted.matches(method, params):
                if scripted.strikes():
                    raise scripted.error()
                return

    def _handlers(self) -> dict[str, Handler]:
        return {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "sendMessage": self.send_message,
            "copyMessage": self.copy_message,
            "sendDocument": self.send_document,
            "getFile": self.get_file,
            "editMessageText": self.edit_message_text,
            "answerCallbackQuery": self.answer_callback_query,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "sendChatAction": self.send_chat_action,
        }

    # --- updates

    async def get_me(self, params: JSON) -> JSON:
        return self.bot_user

    async def get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook.get("url"):
            raise ApiError(409, WEBHOOK_CONFLICT)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        offset, timeout = int(params.get("offset") or 0), float(params.get("timeout") or 0)
        try:
            return await self._queue.poll(offset, limit, timeout, params.get("allowed_updates"))
        except PollSuperseded:
            raise ApiError(409, POLL_CONFLICT) from None

    # --- messages

    async def send_message(self, params: JSON) -> JSON:
        chat_id = self._reachable_chat(params)
        text, raw = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        message = self._new_message(chat_id) | {"text": text} | self._replying_to(chat_id, params)
        return self._record(message | _inline_only(markup), markup, params, raw)

    async def copy_message(self, params: JSON) -> JSON:
        """The message's content (text, photo, sticker...) sent anew; Telegram answers only the
        new message_id. What the user sees is recorded with the caption, or the text, as text."""
        chat_id = self._reachable_chat(params)
        source = self._chats.message(_int(params, "from_chat_id"), _int(params, "message_id"))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        content = {k: v for k, v in source.items() if k not in NOT_COPIED}
        message = self._new_message(chat_id) | content
        shown = str(content.get("text") or content.get("caption") or "")
        self._record(message, None, params, shown, method="copyMessage")
        return {"message_id": message["message_id"]}

    def _replying_to(self, chat_id: int, params: JSON) -> JSON:
        """The answered message, as Telegram includes it (absent when it is gone)."""
        wanted = params.get("reply_parameters")
        if not isinstance(wanted, dict) or not isinstance(wanted.get("message_id"), int):
            return {}
        answered = self._chats.message(chat_id, wanted["message_id"])
        if answered is None and not wanted.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {"reply_to_message": answered} if answered else {}

    async def send_document(self, params: JSON) -> JSON:
        """Records the upload by its file name (the HTTP layer keeps names, not bytes)."""
        chat_id = self._reachable_chat(params)
        document = str(params.get("document") or "")
        if not document:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = str(params.get("caption") or "")
        message = self._new_message(chat_id)
        stored = f"doc-{chat_id}-{message['message_id']}"
        message["document"] = {"file_id": stored, "file_unique_id": stored, "file_name": document}
        self._record(message | ({"caption": caption} if caption else {}), None, params, caption,
                     method="sendDocument")  # fmt: skip
        return message

    async def get_file(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        size = len(self.files[file_id])
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": size,
                "file_path": f"documents/{file_id}"}  # fmt: skip

    def _new_message(self, chat_id: int) -> JSON:
        return {
            "message_id": self._chats.message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chats.chat(chat_id),
            "date": now(),
        }

    async def edit_message_text(self, params: JSON) -> JSON:
        chat_id = self._reachable_chat(params)
        original = self._chats.from_bot(chat_id, _int(params, "message_id"), self.bot_user["id"])
        if original is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text, raw = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        if text == original["text"] and _inline_only(markup) == _inline_only(
            original.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        kept = {k: v for k, v in original.items() if k != "reply_markup"}
        edited = kept | {"text": text, "edit_date": now()} | _inline_only(markup)
        return self._record(edited, markup, params, raw, method="editMessageText")

    async def answer_callback_query(self, params: JSON) -> bool:
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self.open_callbacks:
            raise ApiError(400, QUERY_TOO_OLD)
        self.open_callbacks.discard(query_id)
        self.answered_callbacks.append(params)
        return True

    async def send_chat_action(self, params: JSON) -> bool:
        self._reachable_chat(params)
        return True

    def _reachable_chat(self, params: JSON) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._chats.blocked:
            raise ApiError(403, BLOCKED)
        return chat_id

    def _record(
        self,
        message: JSON,
        markup: JSON | None,
        params: JSON,
        raw: str,
        method: str = "sendMessage",
    ) -> JSON:
        self._chats.store(message)
        sent = SentMessage(
            chat_id=message["chat"]["id"],
            message_id=message["message_id"],
            text=str(message.get("text") or message.get("caption") or ""),
            reply_markup=markup,
            at=time.monotonic(),
            method=method,
            parse_mode=params.get("parse_mode"),
            raw_text=raw,
            reply_to=(message.get("reply_to_message") or {}).get("message_id"),
        )
        self.sent.append(sent)
        return message

    # --- webhook and settings

    async def set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self.delete_webhook(params)
        _check_webhook(url, params)
        if params.get("drop_pending_updates"):
            self._queue.drop_all()
        keys = ("url", "secret_token", "allowed_updates", "max_connections")
        self.webhook = {key: params[key] for key in keys if params.get(key) not in (None, "")}
        return True

    async def delete_webhook(self, params: JSON) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.drop_all()
        self.webhook = {}
        return True

    async def get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue.pending),
        }
        extra = ("max_connections", "allowed_updates")
        return info | {key: self.webhook[key] for key in extra if key in self.webhook}

    async def set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands = commands
        return True

    async def get_my_commands(self, params: JSON) -> list[Any]:
        return self.commands

    async def delete_my_commands(self, params: JSON) -> bool:
        self.commands = []
        return True


def _int(params: JSON, name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int):
        raise ApiError(400, f"Bad Request: {name} is empty")
    return value


def _checked_text(params: JSON) -> tuple[str, str]:
    """(what the user will see, the text as sent), or the 400 Telegram answers."""
    raw = params.get("text")
    raw = raw if isinstance(raw, str) else ""
    try:
        shown = visible_text(raw, params.get("parse_mode"))
    except EntityError as error:
        raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
    if not shown.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(shown) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    return shown, raw


def _checked_markup(markup: Any) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _inline_only(markup: JSON | None) -> JSON:
    """Messages carry only inline keyboards; a reply keyboard lives in the user's client."""
    return {"reply_markup": markup} if markup and "inline_keyboard" in markup else {}


def _check_webhook(url: str, params: JSON) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret not in (None, "") and not SECRET_TOKEN.fullmatch(str(secret)):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    connections = params.get("max_connections", 40)
    if not isinstance(connections, int) or not 1 <= connections <= 100:
        raise ApiError(400, "Bad Request: bad webhook: max_connections must be in 1..100")
