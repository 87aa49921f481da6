"""Update payloads shaped like the ones Telegram sends (without update_id: the queue numbers
them). Users and chats are remembered, so a later callback or edit carries the same names."""

from __future__ import annotations

import copy
import itertools

from tests.fakes.telegram_chats import JSON, Chats, chat_kind, now
from tests.fakes.telegram_text import command_entities

# Telegram callback query ids are long decimal strings; these merely look the part.
CALLBACK_IDS_FROM = 4_200_000_000_000_000_000


class UpdateBuilder:
    def __init__(self, chats: Chats, bot_user: JSON) -> None:
        self._chats = chats
        self._bot_user = bot_user
        self._users: dict[int, JSON] = {}
        self._callback_ids = itertools.count(CALLBACK_IDS_FROM)

    def message(
        self,
        chat_id: int,
        text: str,
        *,
        user: JSON,
        chat_type: str | None = None,
        message_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        chat = self._chat(chat_id, chat_type, self._remember(user))
        message = self._new_message(chat, user, message_id) | _text_fields(text)
        if reply_to_message_id is not None:
            message["reply_to_message"] = self._replied_to(chat, reply_to_message_id)
        self._chats.store(message)
        return {"message": message}

    def callback(self, chat_id: int, data: str, *, message_id: int, user_id: int) -> JSON:
        chat = self._chats.chat(chat_id)
        message = self._chats.from_bot(chat_id, message_id, self._bot_user["id"]) or {
            "message_id": message_id,
            "from": self._bot_user,
            "chat": chat,
            "date": now(),
        }
        query = {
            "id": str(next(self._callback_ids)),
            "from": self.user(user_id),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat_id) * 31 + 7),
            "data": data,
        }
        return {"callback_query": query}

    def contact(
        self, chat_id: int, phone: str, *, contact_user_id: int | None, first_name: str
    ) -> JSON:
        sender = self.user(chat_id)
        contact: JSON = {"phone_number": phone, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        message = self._new_message(self._chats.chat(chat_id), sender, None)
        message["contact"] = contact
        self._chats.store(message)
        return {"message": message}

    def edit(self, chat_id: int, message_id: int, text: str) -> JSON:
        original = self._chats.message(chat_id, message_id)
        if original is None or original.get("from", {}).get("is_bot"):
            raise ValueError(f"chat {chat_id} has no message {message_id} of the user's to edit")
        edited = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited |= _text_fields(text) | {"edit_date": now()}
        self._chats.store(edited)
        return {"edited_message": edited}

    def membership(self, chat_id: int, old: str, new: str) -> JSON:
        """The bot's own membership; in a private chat "kicked" means the user blocked it."""
        update = {
            "chat": self._chats.chat(chat_id),
            "from": self.user(chat_id),
            "date": now(),
            "old_chat_member": self._bot_member(old),
            "new_chat_member": self._bot_member(new),
        }
        return {"my_chat_member": update}

    def _bot_member(self, status: str) -> JSON:
        # A "kicked" member always carries until_date (0 = for ever); PTB requires it.
        until = {"until_date": 0} if status == "kicked" else {}
        return {"user": self._bot_user, "status": status} | until

    def user(self, user_id: int) -> JSON:
        return self._users.get(user_id) or new_user(user_id)

    def _remember(self, user: JSON) -> JSON:
        self._users[int(user["id"])] = user
        return user

    def _chat(self, chat_id: int, chat_type: str | None, user: JSON) -> JSON:
        kind = chat_kind(chat_id, chat_type)
        if kind == "private":
            names = {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
            chat = {"id": chat_id, "type": kind} | names
        else:
            chat = self._chats.known.get(chat_id) or {"id": chat_id, "type": kind}
            chat = {"title": "Test group"} | chat | {"type": kind}
        self._chats.remember(chat)
        return chat

    def _new_message(self, chat: JSON, sender: JSON, message_id: int | None) -> JSON:
        return {
            "message_id": self._chats.message_id(chat["id"], message_id),
            "from": sender,
            "chat": chat,
            "date": now(),
        }

    def _replied_to(self, chat: JSON, message_id: int) -> JSON:
        # Telegram nests one level only: the replied-to message carries no reply of its own.
        stored = self._chats.message(chat["id"], message_id)
        if stored is None:
            return {"message_id": message_id, "chat": chat, "date": now()}
        return {k: v for k, v in stored.items() if k != "reply_to_message"}


def new_user(
    user_id: int,
    first_name: str = "Ann",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "en",
) -> JSON:
    optional = {"last_name": last_name, "username": username, "language_code": language_code}
    user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
    return user | {k: v for k, v in optional.items() if v is not None}


def _text_fields(text: str) -> JSON:
    entities = command_entities(text)
    return {"text": text, "entities": entities} if entities else {"text": text}
