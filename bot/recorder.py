"""The one recorder: every touchpoint and every outbox row is written here.

Handlers describe events and replies; the dispatcher, the relay, channel events and rep turns
hand them to this module, which writes the touchpoints (with their kind and actor), the outbox
rows (with threading for channels that thread) and a turn's next conversation state, and hands
every touchpoint to `bot/webhook_events.py`, which queues the webhook events it makes in the
same transaction. Nothing else writes `touchpoints` or `outbox` (a test checks it).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot import webhook_events
from bot.kinds import ACTIVITY, Actor, TouchpointKind
from bot.records import Conversation, ConversationState, OutboxRow, ticket_number
from bot.redaction import redact
from bot.turn import ContactEvent, Notice, Reply, Result, Routed, Services, Turn
from bot.webhook_events import Change
from storage.repos.outbox import NewOutbound
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import UnitOfWork

PREVIEW = 200


def mint_header_id(domain: str) -> str:
    """A Message-ID nobody can guess (128 random bits from the OS): answers to our mail are
    recognised by it, and a forger must not be able to name one we sent."""
    return f"<{secrets.token_hex(16)}@{domain}>"


@dataclass(frozen=True, slots=True)
class Touch:
    """One touchpoint to record."""

    kind: TouchpointKind
    actor: Actor
    channel: str
    occurred_at: datetime
    details: Mapping[str, Any]
    contact_id: int | None = None
    conversation_id: int | None = None


async def record(uow: UnitOfWork, touches: Iterable[Touch]) -> None:
    """Write the touchpoints, and in the same transaction the webhook events they make."""
    rows = [_row(touch) for touch in touches]
    await uow.touchpoints.add(rows)
    # Most touchpoints (messages, deliveries) make no event: only the others become Changes.
    changes = [_change(row) for row in rows if row.kind in webhook_events.BY_KIND]
    if changes:
        await webhook_events.enqueue(uow, changes)


def _change(row: NewTouchpoint) -> Change:
    return Change(row.kind, row.details, row.occurred_at, row.contact_id, row.conversation_id)


async def queue(uow: UnitOfWork, rows: Sequence[NewOutbound], now: datetime) -> None:
    await uow.outbox.enqueue(list(rows), now)


def on_conversation(
    conversation: Conversation,
    kind: TouchpointKind,
    actor: Actor,
    now: datetime,
    details: Mapping[str, Any],
) -> Touch:
    """A touchpoint on a conversation's (and so its contact's) timeline."""
    return Touch(
        kind, actor, conversation.channel, now, details, conversation.contact_id, conversation.id
    )


def on_contact(item: ContactEvent, channel: str, now: datetime) -> Touch:
    """A touchpoint on a contact's timeline outside any conversation."""
    event = item.event
    return Touch(event.kind, event.actor, channel, now, event.details, item.contact_id)


def of_outbox_row(
    row: OutboxRow, kind: TouchpointKind, actor: Actor, now: datetime, details: Mapping[str, Any]
) -> Touch:
    """A touchpoint about one delivery (delivered, failed, unreachable)."""
    return Touch(kind, actor, row.channel, now, details, row.contact_id, row.conversation_id)


def _row(touch: Touch) -> NewTouchpoint:
    return NewTouchpoint(
        kind=touch.kind.value,
        channel=touch.channel,
        actor=touch.actor.value,
        occurred_at=touch.occurred_at,
        contact_id=touch.contact_id,
        conversation_id=touch.conversation_id,
        details={key: _redacted(value) for key, value in touch.details.items()},
    )


def _redacted(value: Any) -> Any:
    """Error texts land in details: no configured secret is kept in a touchpoint."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


async def record_turn(uow: UnitOfWork, turn: Turn, routed: Routed, services: Services) -> int:
    """Record the turn; returns how many messages were queued (replies and notices)."""
    result = routed.result
    capabilities = services.capabilities(turn.conversation.channel)
    if capabilities.one_message_per_turn and len(result.replies) > 1:
        result = replace(result, replies=(merged(result.replies),))
    touches = _inbound_touches(turn, routed) + [
        _touch(turn, event.kind, event.actor, event.details) for event in result.events
    ]
    touches += [
        _touch(turn, TouchpointKind.MESSAGE_OUT, Actor.BOT, {"text": reply.text[:PREVIEW]})
        for reply in result.replies
    ]
    state = next_state(turn, result)
    if state != turn.conversation.current:
        await uow.conversations.save(turn.conversation, state, turn.now)
    threaded = capabilities.threading is not None
    thread = await _thread_of(uow, turn) if result.replies and threaded else Thread()
    ticket = _ticket_number(state)
    domain = services.config.message_id_domain if threaded else None
    rows = [outbound(turn, reply, thread, ticket, domain) for reply in result.replies]
    rows = await _quiet(uow, turn, result, rows, services)
    rows += [await _notice_row(uow, notice, services) for notice in result.notices]
    await queue(uow, rows, turn.now)
    await record(uow, touches)
    if any(touch.kind in ACTIVITY for touch in touches):
        await _count_active(uow, turn)
    return len(result.replies) + len(result.notices)


async def _count_active(uow: UnitOfWork, turn: Turn) -> None:
    """The conversation is active in this quarter-hour (the report's rollup): written by the
    first such turn of the quarter-hour only, as its row (locked by this turn) says."""
    talk = turn.conversation
    await uow.activity.mark(talk.id, talk.channel, talk.active_slot, turn.now)


async def _quiet(
    uow: UnitOfWork, turn: Turn, result: Result, rows: list[NewOutbound], services: Services
) -> list[NewOutbound]:
    """In the quiet hours a proactive reply waits for their end (the outbox row's first
    attempt is then). Anything else said to the customer, and their own message, releases
    what waits in the conversation first: they are awake, and replies go out in order."""
    quiet = services.config.quiet_hours
    if quiet is None:
        return rows
    if turn.stored_id is not None or not all(reply.proactive for reply in result.replies):
        await uow.outbox.release_held(turn.conversation.id, turn.now)
    if not quiet.holds(turn.now):
        return rows
    until = quiet.over_at(turn.now)
    return [
        replace(row, not_before=until) if reply.proactive else row
        for row, reply in zip(rows, result.replies, strict=True)
    ]


def merged(replies: tuple[Reply, ...]) -> Reply:
    """One message for a whole turn, for channels where each reply is a mail of its own."""
    with_options = [reply for reply in replies if reply.options]
    return Reply(
        text="\n\n".join(reply.text for reply in replies),
        options=with_options[-1].options if with_options else (),
        contact_button=next((r.contact_button for r in replies if r.contact_button), ""),
        human=any(reply.human for reply in replies),
        proactive=all(reply.proactive for reply in replies),
        shows=next((reply.shows for reply in replies if reply.shows is not None), None),
    )


def next_state(turn: Turn, result: Result) -> ConversationState:
    """The handler's state (or the current one) in the turn's language, with the options offered.

    Remembering the last options offered lets a customer answer "2" or type a button's label on a
    channel without buttons (terminal, email).
    """
    state = replace(result.state or turn.state, language=turn.lang)
    with_options = [reply for reply in result.replies if reply.options]
    offered = (
        [[option.label, option.data] for option in with_options[-1].options] if with_options else []
    )
    data = state.data.copy()
    data.pop("offered", None)
    if offered:
        data["offered"] = offered
    elif not result.replies and "offered" in state.data:
        data["offered"] = state.data["offered"]
    return replace(state, data=data)


@dataclass(frozen=True, slots=True)
class Thread:
    """What a reply answers: the message it replies to and the chain before it (email)."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


async def _thread_of(uow: UnitOfWork, turn: Turn) -> Thread:
    message = turn.message
    if message.header_id:
        return Thread(message.header_id, (*message.references, message.header_id))
    if turn.stored_id is not None:
        return Thread()
    # A turn of the system (a follow-up, a rep's answer) answers the customer's last mail, in
    # the chain our last reply carried, so every mail client keeps it in the customer's thread.
    last = await uow.messages.last_inbound_header_id(turn.conversation.id)
    if last is None:
        return Thread()
    chain = await uow.outbox.last_chain(turn.conversation.id)
    return Thread(last, (*chain, last))


def _ticket_number(state: ConversationState) -> int | None:
    ticket_id = state.data.get("ticket_id")
    return ticket_number(ticket_id) if isinstance(ticket_id, int) else None


def outbound(
    turn: Turn, reply: Reply, thread: Thread, ticket: int | None, id_domain: str | None
) -> NewOutbound:
    """A reply as an outbox row. On a threaded channel it gets its Message-ID now, so that a
    retry sends the same one (`id_domain`; None on channels without threads)."""
    return NewOutbound(
        channel=turn.conversation.channel,
        address=turn.conversation.address,
        text=reply.text,
        conversation_id=turn.conversation.id,
        inbound_message_id=turn.stored_id,
        options=[{"label": option.label, "data": option.data} for option in reply.options],
        contact_button=reply.contact_button,
        subject=turn.conversation.subject or turn.message.subject,
        header_id=mint_header_id(id_domain) if id_domain else None,
        in_reply_to=thread.in_reply_to,
        references=list(thread.references),
        ticket=ticket,
        automatic=not reply.human,
        forward_message_id=reply.shows,
    )


async def queue_notices(
    uow: UnitOfWork, notices: Sequence[Notice], services: Services, now: datetime
) -> None:
    """Messages to people other than a turn's customer (a rep's welcome), outside a turn."""
    await queue(uow, [await _notice_row(uow, notice, services) for notice in notices], now)


async def _notice_row(uow: UnitOfWork, notice: Notice, services: Services) -> NewOutbound:
    # On a threaded channel, what follows a card (relayed messages) answers the last mail the
    # rep got about that conversation, so the rep's mail client keeps one thread per customer.
    capabilities = services.capabilities(notice.channel)
    threaded = capabilities.threading is not None
    chain: list[str] = []
    if notice.about and not notice.options and threaded:
        chain = await uow.outbox.last_relay_chain(notice.channel, notice.address, notice.about)
    domain = services.config.message_id_domain
    # Where senders can be forged, the rep's answer must come back to their secret address.
    token = None
    if not capabilities.proves_sender:
        token = await uow.reps.reply_token_at(notice.channel, notice.address)
    return NewOutbound(
        channel=notice.channel,
        address=notice.address,
        text=notice.text,
        options=[{"label": option.label, "data": option.data} for option in notice.options],
        subject=notice.subject,
        header_id=mint_header_id(domain) if threaded else None,
        in_reply_to=chain[-1] if chain else None,
        references=chain,
        relay_conversation_id=notice.about,
        forward_message_id=notice.forward_message_id,
        reply_token=token,
        link_previews=notice.link_previews,
    )


def _inbound_touches(turn: Turn, routed: Routed) -> list[Touch]:
    if turn.stored_id is None:
        return []
    details: dict[str, Any] = {"text": turn.message.text[:PREVIEW], "lang": turn.lang}
    if turn.message.attachments:
        details["attachments"] = [item.kind for item in turn.message.attachments]
    if turn.message.sequence is not None:  # where a late message finds its place (bot/late.py)
        details["sequence"] = turn.message.sequence
    if routed.match is not None:
        match = routed.match
        details.update(intent=match.intent, score=match.score, matched=match.matched)
    return [_touch(turn, TouchpointKind.MESSAGE_IN, Actor.CUSTOMER, details)]


def _touch(turn: Turn, kind: TouchpointKind, actor: Actor, details: Mapping[str, Any]) -> Touch:
    return on_conversation(turn.conversation, kind, actor, turn.now, details)
