"""The turn of one inbound message, inside its transaction (see `bot/dispatch.py`).

Steps: find or open the conversation (locking it), store the message (a duplicate ends the
turn), pick the language, route, record what the handler returned, commit.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from datetime import datetime

from bot import channel_events, floods, late, rep_turn
from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.language import language_for
from bot.model import AcceptResult, InboundKind, InboundMessage, Outcome
from bot.recorder import Touch, on_conversation, record, record_turn
from bot.records import Conversation
from bot.storing import find_and_store, store
from bot.turn import Event, Result, Routed, Services, Turn
from storage.repos.conversations import Arrival
from storage.uow import UnitOfWork


async def process(
    uow: UnitOfWork,
    services: Services,
    message: InboundMessage,
    now: datetime,
    *,
    flooded: bool = False,
    releasing: bool = False,
) -> AcceptResult:
    """The turn of `message`. `flooded`: its sender is over the flood limit, the message is
    held; `releasing`: messages held before may be waiting for this turn (bot/floods.py)."""
    if message.kind is InboundKind.IGNORED:
        return await _ignore(uow, message, now)
    if message.kind is InboundKind.EVENT:
        return await channel_events.process(uow, services, message, now)
    if message.kind is InboundKind.OPENED:
        return await _opened(uow, services, message, now)
    arrival = await _arrive(uow, message, now, held=flooded)
    found = arrival.conversation
    # A conversation at an address no rep has is a customer's: no need to look further.
    if found is None or found.address_rep_id is not None:
        rep_id = await rep_writing(uow, services, message)
        if rep_id is not None:
            return await rep_turn.process(uow, services, message, rep_id, now)
    conversation = found or await _open_conversation(uow, services, message, now)
    if message.edit_of is not None:
        return await _edit(uow, message, conversation, now)
    if late.is_late(message, conversation):
        return await late.process(uow, message, conversation, now)
    if arrival.tried:  # stored, and its sequence advanced, as the conversation was found
        stored_id = arrival.message_id
    else:
        stored_id = await store(uow, message, conversation.id, now, held=flooded)
        if stored_id is not None:
            await late.advance(uow, message, conversation)
    if stored_id is None:
        return AcceptResult(Outcome.DUPLICATE, conversation_id=conversation.id)
    if flooded:
        replies = await floods.hold(uow, services, message, stored_id, conversation, now)
    else:
        message = await floods.with_held(uow, message, conversation.id, releasing=releasing)
        replies = await _handle(uow, services, message, stored_id, conversation, now)
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=replies, conversation_id=conversation.id)


async def _arrive(
    uow: UnitOfWork, message: InboundMessage, now: datetime, *, held: bool
) -> Arrival:
    """The message's conversation, locked; an edit is only looked up (it is not a new message)."""
    if message.edit_of is not None:
        key = message.conversation_key
        return Arrival(await uow.conversations.find(message.channel, key, lock=True))
    return await find_and_store(uow, message, now, held=held)


async def _handle(
    uow: UnitOfWork,
    services: Services,
    message: InboundMessage,
    stored_id: int,
    conversation: Conversation,
    now: datetime,
) -> int:
    ctx = services.context(uow)
    lang = language_for(message, conversation, services.config.default_language)
    turn = Turn(message, stored_id, conversation, lang, now)
    proves_sender = services.capabilities(conversation.channel).proves_sender
    reachable_again = await _reachable_again(uow, conversation, proves_sender=proves_sender)
    routed = await services.business.on_message(turn, ctx)
    if routed.conversation is not None:
        turn = replace(turn, conversation=routed.conversation)
    routed = replace(routed, result=_with_events(routed.result, reachable_again))
    return await record_turn(uow, turn, routed, services)


async def _opened(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> AcceptResult:
    """The customer opened the conversation: the business may speak first (a greeting, the
    pending question of a flow left unfinished). Recorded as a touchpoint, not as a message."""
    found = await uow.conversations.find(message.channel, message.conversation_key, lock=True)
    if found is not None and found.address_rep_id is not None:
        return AcceptResult(Outcome.IGNORED, conversation_id=found.id)  # a rep's own address
    conversation = found or await _open_conversation(uow, services, message, now)
    lang = language_for(message, conversation, services.config.default_language)
    turn = Turn(message, None, conversation, lang, now)
    result = await services.business.on_opened(turn, services.context(uow))
    opened = Event(Kind.CONVERSATION_OPENED, {}, Actor.CUSTOMER)
    result = replace(result, events=(opened, *result.events))
    replies = await record_turn(uow, turn, Routed(result), services)
    await uow.commit()
    return AcceptResult(Outcome.HANDLED, replies=replies, conversation_id=conversation.id)


async def rep_writing(uow: UnitOfWork, services: Services, message: InboundMessage) -> int | None:
    """The rep who wrote `message`, when it proves to be the rep's.

    On a channel that proves its senders (Telegram's user id) the address is enough. A mail's
    From line proves nothing: a rep's mail counts only when it comes to the rep's secret reply
    address (`reply_token`), or answers one of our mails to the rep by its Message-ID, which
    only the rep's mailbox has seen. Anything else from a rep's address is a customer's mail.
    """
    rep = await uow.reps.by_address(message.channel, message.sender.external_id)
    if rep is None:
        return None
    if services.capabilities(message.channel).proves_sender:
        return rep.id
    token = await uow.reps.reply_token_of(rep.id)
    if token and message.reply_token and hmac.compare_digest(message.reply_token, token):
        return rep.id
    answered = [*([message.in_reply_to] if message.in_reply_to else []), *message.references]
    sent_to_rep = await uow.outbox.sent_to(message.channel, message.sender.external_id, answered)
    return rep.id if sent_to_rep else None


async def _open_conversation(
    uow: UnitOfWork, services: Services, message: InboundMessage, now: datetime
) -> Conversation:
    lang = language_for(message, None, services.config.default_language)
    contact_id = await uow.contacts.owner_of(message.channel, message.sender.external_id)
    if contact_id is None:
        contact_id = await _new_contact(uow, message, lang, now)
    return await uow.conversations.open(
        contact_id=contact_id,
        channel=message.channel,
        thread_key=message.conversation_key,
        address=message.address.value,
        language=lang,
        subject=message.subject or None,
        now=now,
        sequence=message.sequence,
    )


async def _new_contact(uow: UnitOfWork, message: InboundMessage, lang: str, now: datetime) -> int:
    contact_id = await uow.contacts.create(message.sender.display_name, lang, now)
    address = message.sender.external_id
    link = await uow.contacts.link(contact_id, message.channel, address, now)
    if link.outcome == "conflict":
        # A concurrent turn of another thread of the same sender (PostgreSQL runs those at
        # once) created the person first: join that contact instead of splitting the person.
        await uow.contacts.delete(contact_id)
        return link.owner_contact_id
    if link.outcome == "moved":  # somebody had typed this address: it is this sender's
        details = {
            "channel": message.channel,
            "address": address,
            "from_contact_id": link.owner_contact_id,
        }
        await record(
            uow,
            [Touch(Kind.CLAIM_MOVED, Actor.SYSTEM, message.channel, now, details, contact_id)],
        )
    return contact_id


async def _ignore(uow: UnitOfWork, message: InboundMessage, now: datetime) -> AcceptResult:
    """Recorded (the message and why it is ignored), never answered."""
    if await store(uow, message, None, now) is None:
        return AcceptResult(Outcome.DUPLICATE)
    details = {"external_id": message.external_id, "reason": message.reason}
    await record(uow, [Touch(Kind.IGNORED, Actor.SYSTEM, message.channel, now, details)])
    await uow.commit()
    return AcceptResult(Outcome.IGNORED)


async def _edit(
    uow: UnitOfWork, message: InboundMessage, conversation: Conversation, now: datetime
) -> AcceptResult:
    """An edited message updates the stored one; it is never routed as a new request."""
    assert message.edit_of is not None
    if await store(uow, message, conversation.id, now) is None:
        return AcceptResult(Outcome.DUPLICATE, conversation_id=conversation.id)
    original = await uow.messages.find_id(message.channel, message.edit_of)
    if original is not None:
        await uow.messages.apply_edit(original, message.text, now)
    details = {"external_id": message.edit_of, "known": original is not None}
    await record(
        uow, [on_conversation(conversation, Kind.MESSAGE_EDITED, Actor.CUSTOMER, now, details)]
    )
    await uow.commit()
    return AcceptResult(Outcome.EDITED, conversation_id=conversation.id)


async def _reachable_again(
    uow: UnitOfWork, conversation: Conversation, *, proves_sender: bool
) -> tuple[Event, ...]:
    """A message from an address marked unreachable: the customer unblocked the bot, or their
    mailbox works again. Without this, nothing would ever reach them.

    Where the channel proves who wrote (Telegram), the address is reachable again at once.
    Where it does not (a From header can be forged), the address is only tried again: it
    counts as reachable once a send to it succeeds (the relay records that), and a forged
    mail costs at most the one reply that goes to the dead address.
    """
    if conversation.reachable:
        return ()
    if not proves_sender:
        await uow.contacts.try_again(conversation.channel, conversation.address)
        return ()
    await uow.contacts.set_reachable(conversation.channel, conversation.address, None)
    return (Event(Kind.REACHABLE_AGAIN, {"address": conversation.address}, Actor.SYSTEM),)


def _with_events(result: Result, events: tuple[Event, ...]) -> Result:
    return replace(result, events=(*events, *result.events)) if events else result
