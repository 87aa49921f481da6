"""The fake's memory of chats: chat objects, message ids, messages, and who blocked the bot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
# Telegram gives supergroups and channels ids below -10^12 ("-100" followed by the id).
SUPERGROUP_IDS_BELOW = -1_000_000_000_000


def now() -> int:
    """Telegram dates are whole Unix seconds."""
    return int(time.time())


def chat_kind(chat_id: int, kind: str | None) -> str:
    """The chat type for an id, refusing combinations Telegram never produces."""
    inferred = "private" if chat_id > 0 else "group"
    if chat_id <= SUPERGROUP_IDS_BELOW:
        inferred = "supergroup"
    kind = kind or inferred
    if (kind == "private") != (chat_id > 0):
        raise ValueError(f"chat {chat_id} cannot be {kind!r}: private ids are positive")
    return kind


@dataclass(slots=True)
class Chats:
    """Message ids run per chat and are shared by the user's and the bot's messages, as in a
    private chat on Telegram, so replies and edits can refer to either."""

    known: dict[int, JSON] = field(default_factory=dict)
    last_message_id: dict[int, int] = field(default_factory=dict)
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)

    def remember(self, chat: JSON) -> None:
        self.known[int(chat["id"])] = chat

    def chat(self, chat_id: int) -> JSON:
        """A chat the bot writes to before hearing from it still gets a plausible object."""
        if chat_id in self.known:
            return self.known[chat_id]
        if chat_kind(chat_id, None) == "private":
            return {"id": chat_id, "type": "private", "first_name": "Ann"}
        return {"id": chat_id, "type": chat_kind(chat_id, None), "title": "Test group"}

    def message_id(self, chat_id: int, wanted: int | None = None) -> int:
        """The next id in the chat, or `wanted`; later ids continue above the highest used."""
        chosen = wanted if wanted is not None else self.last_message_id.get(chat_id, 0) + 1
        self.last_message_id[chat_id] = max(chosen, self.last_message_id.get(chat_id, 0))
        return chosen

    def store(self, message: JSON) -> None:
        self.messages[int(message["chat"]["id"]), int(message["message_id"])] = message

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self.messages.get((chat_id, message_id))

    def from_bot(self, chat_id: int, message_id: int, bot_id: int) -> JSON | None:
        message = self.message(chat_id, message_id)
        if message is None or message.get("from", {}).get("id") != bot_id:
            return None
        return message

    def observe(self, update: JSON) -> None:
        """Learns chats and messages from a raw update, so replies and edits can refer to them."""
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                self.remember(message["chat"])
                self.message_id(int(message["chat"]["id"]), int(message["message_id"]))
                self.store(message)
