"""Writing what a turn produced: touchpoints, outbox rows and the conversation's next state.

This is the dispatcher's half of the rule "touchpoints are written by the dispatcher and the
relay only": handlers describe events, this module records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import make_msgid
from typing import Any

from bot.records import Conversation, ConversationState, ticket_number
from bot.turn import FlowConfig, Notice, Reply, Result, Routed, Turn
from storage.repos.outbox import NewOutbound
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import UnitOfWork

PREVIEW = 200


async def record_turn(uow: UnitOfWork, turn: Turn, routed: Routed, config: FlowConfig) -> int:
    """Record the turn; returns how many replies were queued."""
    result = routed.result
    if turn.conversation.channel in config.one_message_channels and len(result.replies) > 1:
        result = replace(result, replies=(merged(result.replies),))
    touchpoints = _inbound_touchpoints(turn, routed) + [
        _touchpoint(turn, event.kind, event.actor, event.details) for event in result.events
    ]
    touchpoints += [
        _touchpoint(turn, "message_out", "bot", {"text": reply.text[:PREVIEW]})
        for reply in result.replies
    ]
    state = next_state(turn, result)
    if state != turn.conversation.current:
        await uow.conversations.save(turn.conversation, state, turn.now)
    thread = await _thread_of(uow, turn) if result.replies else Thread()
    ticket = _ticket_number(state)
    rows = [outbound(turn, reply, thread, ticket, config) for reply in result.replies]
    rows += [await _notice_row(uow, notice, config) for notice in result.notices]
    await uow.outbox.enqueue(rows, turn.now)
    await uow.touchpoints.add(touchpoints)
    return len(result.replies) + len(result.notices)


def merged(replies: tuple[Reply, ...]) -> Reply:
    """One message for a whole turn, for channels where each reply is a mail of its own."""
    with_options = [reply for reply in replies if reply.options]
    return Reply(
        text="\n\n".join(reply.text for reply in replies),
        options=with_options[-1].options if with_options else (),
        contact_button=next((r.contact_button for r in replies if r.contact_button), ""),
        human=any(reply.human for reply in replies),
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
    data = {key: value for key, value in state.data.items() if key != "offered"}
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
    if message.message_id:
        return Thread(message.message_id, (*message.references, message.message_id))
    if turn.message_id is not None:
        return Thread()
    # A turn of the system (a follow-up, a rep's answer) answers the customer's last mail, in
    # the chain our last reply carried, so every mail client keeps it in the customer's thread.
    last = await uow.messages.last_inbound_message_id(turn.conversation.id)
    if last is None:
        return Thread()
    chain = await uow.outbox.last_chain(turn.conversation.id)
    return Thread(last, (*chain, last))


def _ticket_number(state: ConversationState) -> int | None:
    ticket_id = state.data.get("ticket_id")
    return ticket_number(ticket_id) if isinstance(ticket_id, int) else None


def outbound(
    turn: Turn, reply: Reply, thread: Thread, ticket: int | None, config: FlowConfig
) -> NewOutbound:
    return NewOutbound(
        channel=turn.conversation.channel,
        address=turn.conversation.address,
        text=reply.text,
        conversation_id=turn.conversation.id,
        inbound_message_id=turn.message_id,
        options=[{"label": option.label, "data": option.data} for option in reply.options],
        contact_button=reply.contact_button,
        subject=turn.conversation.subject or turn.message.subject,
        message_id=make_msgid(domain=config.message_id_domain),
        in_reply_to=thread.in_reply_to,
        references=list(thread.references),
        ticket=ticket,
        automatic=not reply.human,
        forward_message_id=reply.shows,
    )


async def _notice_row(uow: UnitOfWork, notice: Notice, config: FlowConfig) -> NewOutbound:
    # By email, what follows a card (relayed messages) answers the last mail the rep got about
    # that conversation, so the rep's mail client keeps one thread per customer.
    chain: list[str] = []
    if notice.about and not notice.options and notice.channel in config.one_message_channels:
        chain = await uow.outbox.last_relay_chain(notice.channel, notice.address, notice.about)
    return NewOutbound(
        channel=notice.channel,
        address=notice.address,
        text=notice.text,
        options=[{"label": option.label, "data": option.data} for option in notice.options],
        subject=notice.subject,
        message_id=make_msgid(domain=config.message_id_domain),
        in_reply_to=chain[-1] if chain else None,
        references=chain,
        relay_conversation_id=notice.about,
        forward_message_id=notice.forward_message_id,
    )


def _inbound_touchpoints(turn: Turn, routed: Routed) -> list[NewTouchpoint]:
    if turn.message_id is None:
        return []
    details: dict[str, Any] = {"text": turn.message.text[:PREVIEW], "lang": turn.lang}
    if turn.message.attachments:
        details["attachments"] = [item.kind for item in turn.message.attachments]
    if routed.match is not None:
        match = routed.match
        details.update(intent=match.intent, score=match.score, matched=match.matched)
    return [_touchpoint(turn, "message_in", "customer", details)]


def _touchpoint(turn: Turn, kind: str, actor: str, details: dict[str, Any]) -> NewTouchpoint:
    return touchpoint(turn.conversation, kind, actor, turn.now, details)


def touchpoint(
    conversation: Conversation, kind: str, actor: str, now: datetime, details: Mapping[str, Any]
) -> NewTouchpoint:
    return NewTouchpoint(
        kind=kind,
        channel=conversation.channel,
        actor=actor,
        occurred_at=now,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        details=dict(details),
    )
