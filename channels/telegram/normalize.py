"""Telegram updates → the shared conversation model.

Every update becomes exactly one `InboundMessage`: a customer message, a channel event
(blocked/unblocked, addressed in a group), a recorded ignore, or an unreadable update to park.
Idempotency keys are Telegram's natural keys (`chat_id:message_id`, the callback query id),
never `update_id`, which Telegram re-randomises after a quiet week.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Bot, CallbackQuery, ChatMemberUpdated, Message, Update

from bot.intake import UNKNOWN_ADDRESS, guarded
from bot.model import Address, Attachment, InboundKind, InboundMessage, Sender

CHANNEL = "telegram"
PRIVATE = "private"
GROUPS = ("group", "supergroup")
MEDIA = ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation")
OTHER_CONTENT = ("dice", "poll", "game", "story", "invoice", "venue", "giveaway", "paid_media")
SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
)


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: int
    username: str


@dataclass(frozen=True, slots=True)
class Normalized:
    message: InboundMessage
    callback_query_id: str | None = None


def normalize(raw: Mapping[str, Any], me: BotIdentity, client: Bot) -> Normalized:
    """One raw update as the core sees it, never an exception: an update the client cannot
    parse, or one whose fields break what follows, is UNREADABLE (parked with its JSON)."""
    return guarded(
        CHANNEL,
        lambda: _normalized(Update.de_json(dict(raw), client), raw, me),
        Normalized,
        message_of=lambda item: item.message,
        payload=raw,
    )


def _normalized(update: Update, raw: Mapping[str, Any], me: BotIdentity) -> Normalized:
    if update.message is not None:
        return Normalized(_from_message(update.message, raw, me))
    if update.edited_message is not None:
        return Normalized(_from_message(update.edited_message, raw, me, edited=True))
    if update.callback_query is not None:
        return _from_callback(update.callback_query, raw)
    if update.my_chat_member is not None:
        return Normalized(_from_membership(update.my_chat_member, raw))
    return Normalized(_ignored(raw, _kind_of(raw), chat_id=None))


# --- messages --------------------------------------------------------------------------------


def _from_message(
    message: Message, raw: Mapping[str, Any], me: BotIdentity, *, edited: bool = False
) -> InboundMessage:
    reason = _reason_to_ignore(message, me, edited=edited)
    if reason:
        return _ignored(raw, reason, chat_id=message.chat.id, key=_key(message))
    if message.chat.type in GROUPS:
        return _group_addressed(message, raw)
    return _customer_message(message, raw, me, edited=edited)


def _reason_to_ignore(message: Message, me: BotIdentity, *, edited: bool) -> str:
    chat_type = message.chat.type
    if chat_type not in (PRIVATE, *GROUPS):
        return f"{chat_type} post"
    if message.from_user is None or message.from_user.is_bot or message.sender_chat:
        return "not written by a person"
    if any(getattr(message, name, None) for name in SERVICE_FIELDS):
        return "service message"
    if _command_for_another_bot(message, me):
        return "command for another bot"
    if chat_type in GROUPS and (edited or not _addresses_bot(message, me)):
        return "group message not addressed to the bot"
    return ""


def _customer_message(
    message: Message, raw: Mapping[str, Any], me: BotIdentity, *, edited: bool
) -> InboundMessage:
    assert message.from_user is not None
    user = message.from_user
    key = _key(message)
    contact = message.contact
    own_phone = (
        _international(contact.phone_number) if contact and contact.user_id == user.id else None
    )
    return InboundMessage(
        external_id=f"{key}:edit:{_edit_stamp(message)}" if edited else key,
        edit_of=key if edited else None,
        address=Address(CHANNEL, str(message.chat.id)),
        sender=Sender(str(user.id), user.full_name, user.language_code),
        text=_text_of(message, me),
        in_reply_to=_answered(message),
        shared_phone=own_phone,
        attachments=_attachments(message, own_phone is not None),
        received_at=message.date,
        payload=dict(raw),
        sequence=None if edited else _sequence(message),
    )


def _group_addressed(message: Message, raw: Mapping[str, Any]) -> InboundMessage:
    assert message.from_user is not None
    user = message.from_user
    return InboundMessage(
        external_id=_key(message),
        address=Address(CHANNEL, str(message.chat.id)),
        sender=Sender(str(user.id), user.full_name, user.language_code),
        text=message.text or message.caption or "",
        received_at=message.date,
        payload=dict(raw),
        kind=InboundKind.EVENT,
        event="group_addressed",
    )


def _text_of(message: Message, me: BotIdentity) -> str:
    """The text; a leading "/start@ThisBot x" reads as "/start x"."""
    text = message.text or message.caption or ""
    command, _, rest = text.partition(" ")
    if command.startswith("/") and command.lower().endswith(f"@{me.username.lower()}"):
        command = command[: -len(me.username) - 1]
        return f"{command} {rest}".rstrip() if rest else command
    return text


def _command_for_another_bot(message: Message, me: BotIdentity) -> bool:
    command = (message.text or "").partition(" ")[0]
    if not command.startswith("/") or "@" not in command:
        return False
    return command.partition("@")[2].lower() != me.username.lower()


def _addresses_bot(message: Message, me: BotIdentity) -> bool:
    text = (message.text or message.caption or "").lower()
    mentioned = f"@{me.username.lower()}" in text
    reply = message.reply_to_message
    replied_to_bot = (
        reply is not None and reply.from_user is not None and reply.from_user.id == me.user_id
    )
    return mentioned or replied_to_bot


def _attachments(message: Message, contact_is_own: bool) -> tuple[Attachment, ...]:
    found = [_media(message, name) for name in MEDIA if getattr(message, name, None)]
    if message.location is not None:
        ref = f"{message.location.latitude},{message.location.longitude}"
        found.append(Attachment(kind="location", ref=ref))
    if message.contact is not None and not contact_is_own:
        found.append(Attachment(kind="contact", ref=message.contact.phone_number))
    found += [Attachment(kind=name) for name in OTHER_CONTENT if getattr(message, name, None)]
    return tuple(found)


def _media(message: Message, kind: str) -> Attachment:
    item = getattr(message, kind)
    if isinstance(item, tuple):  # photos come in several sizes: keep the largest
        item = item[-1]
    return Attachment(
        kind=kind,
        name=str(getattr(item, "file_name", "") or ""),
        mime_type=str(getattr(item, "mime_type", "") or ""),
        size=getattr(item, "file_size", None),
        ref=str(getattr(item, "file_id", "")),
    )


# --- buttons and membership ------------------------------------------------------------------


def _from_callback(query: CallbackQuery, raw: Mapping[str, Any]) -> Normalized:
    chat = query.message.chat if query.message is not None else None
    if chat is not None and chat.type != PRIVATE:
        return Normalized(_ignored(raw, "button in a group", chat_id=chat.id), query.id)
    user = query.from_user
    message = InboundMessage(
        external_id=f"cb:{query.id}",
        address=Address(CHANNEL, str(chat.id if chat else user.id)),
        sender=Sender(str(user.id), user.full_name, user.language_code),
        button=query.data or "",
        payload=dict(raw),
    )
    return Normalized(message, query.id)


def _from_membership(change: ChatMemberUpdated, raw: Mapping[str, Any]) -> InboundMessage:
    status = change.new_chat_member.status
    note = {"kicked": "blocked", "member": "unblocked"}.get(status)
    if change.chat.type != PRIVATE or note is None:
        return _ignored(raw, f"membership change to {status}", chat_id=change.chat.id)
    user = change.from_user
    return InboundMessage(
        external_id=f"{change.chat.id}:member:{int(change.date.timestamp())}:{status}",
        address=Address(CHANNEL, str(change.chat.id)),
        sender=Sender(str(user.id), user.full_name, user.language_code),
        received_at=change.date,
        payload=dict(raw),
        kind=InboundKind.EVENT,
        event=note,
    )


# --- what cannot be answered -----------------------------------------------------------------


def _ignored(
    raw: Mapping[str, Any], reason: str, *, chat_id: int | None, key: str | None = None
) -> InboundMessage:
    return InboundMessage(
        external_id=key or f"update:{_fingerprint(raw)}",
        address=Address(CHANNEL, str(chat_id) if chat_id is not None else UNKNOWN_ADDRESS),
        sender=Sender(""),
        payload=dict(raw),
        kind=InboundKind.IGNORED,
        reason=reason,
    )


def _kind_of(raw: Mapping[str, Any]) -> str:
    kinds = [name for name in raw if name != "update_id"]
    return f"{kinds[0] if kinds else 'empty'} update"


def _answered(message: Message) -> str | None:
    """The key of the message this one replies to (a rep answering a relayed message)."""
    reply = message.reply_to_message
    return _key(reply) if reply is not None else None


def _international(phone: str) -> str:
    # Telegram gives the shared number in international form without "+" ("79123456789").
    digits = phone.strip()
    return digits if digits.startswith("+") else f"+{digits}"


def _key(message: Message) -> str:
    return f"{message.chat.id}:{message.message_id}"


def _sequence(message: Message) -> int | None:
    """Message ids grow within a chat: what orders its messages when the webhook's parallel
    deliveries do not (an edit keeps its message's id and is no new message). The client takes
    any JSON as given: an id that is no number orders nothing, and the message is still read."""
    number = message.message_id
    return number if type(number) is int else None


def _edit_stamp(message: Message) -> int:
    return int(message.edit_date.timestamp()) if message.edit_date else 0


def _fingerprint(raw: Mapping[str, Any]) -> str:
    # update_id plus a hash of the content: unique even when Telegram reuses an update_id.
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"{raw.get('update_id', '?')}:{digest[:16]}"
