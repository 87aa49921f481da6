"""Which conversation a message of a threaded channel (email) continues.

In order: (1) one of our replies' Message-IDs in In-Reply-To/References, (2) an earlier inbound
Message-ID of a conversation, (3) our ticket tag `[#N]` in the subject, (4) the same sender with
the same subject in a conversation active in the last `SAME_SUBJECT_DAYS` days.

Headers and tags can be forged: a message joins a conversation only when its sender takes part
in it (the conversation's address, or an address of the conversation's contact). Otherwise,
and when nothing matches, it starts a conversation of its own, keyed by its own Message-ID.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.model import InboundMessage, Threading
from bot.records import Conversation, ticket_id_from_number
from storage.uow import UnitOfWork

SAME_SUBJECT_DAYS = 14


async def resolve(uow: UnitOfWork, message: InboundMessage, threading: Threading) -> InboundMessage:
    """The message with `thread_key` set to the conversation it continues (or its own).

    Only for channels that come in threads (a chat is a conversation already); `threading` is
    the channel's reading of subjects."""
    for candidate in await _candidates(uow, message, threading):
        if await _takes_part(uow, message, candidate):
            return replace(message, thread_key=candidate.thread_key)
    return replace(message, thread_key=message.header_id or message.external_id)


async def _candidates(
    uow: UnitOfWork, message: InboundMessage, threading: Threading
) -> list[Conversation]:
    found: list[Conversation] = []
    ids = [*([message.in_reply_to] if message.in_reply_to else []), *reversed(message.references)]
    for conversation_id in await uow.outbox.conversations_of_header_ids(ids):
        found += await _conversation(uow, conversation_id)
    for conversation_id in await uow.messages.conversations_of(message.channel, ids):
        found += await _conversation(uow, conversation_id)
    number = threading.ticket_tag(message.subject)
    if number is not None:
        ticket = await uow.tickets.get(ticket_id_from_number(number))
        found += await _conversation(uow, ticket.conversation_id if ticket else None)
    return found + await _same_subject(uow, message, threading)


async def _conversation(uow: UnitOfWork, conversation_id: int | None) -> list[Conversation]:
    conversation = await uow.conversations.get(conversation_id) if conversation_id else None
    return [conversation] if conversation else []


async def _same_subject(
    uow: UnitOfWork, message: InboundMessage, threading: Threading
) -> list[Conversation]:
    subject = threading.topic(message.subject)
    if not subject:
        return []
    since = message.received_at - timedelta(days=SAME_SUBJECT_DAYS)
    recent = await uow.conversations.recent_subjects(message.channel, message.address.value, since)
    same = [number for number, other in recent if threading.topic(other or "") == subject]
    return [
        conversation for number in same if (conversation := await uow.conversations.get(number))
    ]


async def _takes_part(uow: UnitOfWork, message: InboundMessage, conversation: Conversation) -> bool:
    if conversation.channel != message.channel:
        return False
    if conversation.address == message.address.value:
        return True
    owner = await uow.contacts.owner_of(message.channel, message.sender.external_id)
    return owner == conversation.contact_id
