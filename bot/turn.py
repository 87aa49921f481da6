"""The handler contract: what a handler receives (a Turn and its Context), what it returns (a
Result), and the one seam through which the engine reaches the business (`Business`).

Handlers read and write business rows through `ctx.uow` inside the turn's transaction, but they
never commit and never send: replies and touchpoint events travel back in the `Result`, and the
dispatcher turns them into outbox rows and touchpoints before it commits.

This module imports nothing from `handlers/` or `channels/`: the composition root
(`bot/bootstrap.py`) hands the engine a `Business` built from the handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.intents import IntentMatch, IntentMatcher
from bot.kinds import Actor, TouchpointKind
from bot.model import NO_CAPABILITIES, Address, Capabilities, InboundMessage, QuickReply, Sender
from bot.records import Conversation, ConversationState, Rep, Timer
from bot.rep_hours import QuietHours, RepHours
from bot.texts import Texts
from storage.uow import UnitOfWork

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    options: tuple[QuickReply, ...] = ()
    contact_button: str = ""
    # Written by a person (a rep's answer): email then leaves out `Auto-Submitted`, which would
    # tell the customer's mail system that nobody wrote it.
    human: bool = False
    shows: int | None = None  # a stored message whose files go with this reply (a rep's photo)
    # Said of the bot's own accord, not in answer to the customer (a follow-up, an
    # announcement): held in the quiet hours (FlowConfig.quiet_hours) until they end.
    proactive: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """A business event; the recorder writes it as a touchpoint of the turn's conversation."""

    kind: TouchpointKind
    details: dict[str, Any] = field(default_factory=dict)
    actor: Actor = Actor.BOT


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """An event on a contact's timeline that belongs to no conversation's turn: an operator's
    change outside any conversation (undoing a merge; a ticket that has no conversation)."""

    contact_id: int
    event: Event


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to someone other than the customer of the turn: a rep.

    `about` is the customer conversation it concerns (a card, a relayed message): a rep who
    answers this message answers that conversation.
    """

    channel: str
    address: str
    text: str
    options: tuple[QuickReply, ...] = ()
    about: int | None = None
    subject: str = ""
    forward_message_id: int | None = None  # the stored customer message to show as it is
    link_previews: bool = True  # False: the channel must not fetch a link to show it (a secret)


@dataclass(frozen=True, slots=True)
class Result:
    replies: tuple[Reply, ...] = ()
    events: tuple[Event, ...] = ()
    state: ConversationState | None = None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class Routed:
    """What the business made of a customer's message: the result, the intent match that
    chose it (recorded on the `message_in` touchpoint), and the conversation when the turn
    moved it to another contact (a verified phone number proved who the sender is)."""

    result: Result
    match: IntentMatch | None = None
    conversation: Conversation | None = None


Action = Callable[["Turn", "Context"], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class CustomerAction:
    """What a rep's message does to a customer's conversation, run as a turn of that
    conversation (locked, recorded on the customer's timeline)."""

    conversation_id: int
    action: Action


TurnWork = Callable[["Turn", "Context"], Awaitable["Result | None"]]
ContactWork = Callable[["Context", datetime], Awaitable["tuple[ContactEvent, ...] | None"]]


@dataclass(frozen=True, slots=True)
class OperatorChange:
    """What a person does outside any chat (the CLI, the console): a turn of the conversation
    it belongs to, or, for a record that has none, a change on its contact's timeline. Either
    work returns None when the change does not apply (any longer): nothing is written."""

    conversation_id: int | None
    on_conversation: TurnWork
    on_contact: ContactWork | None = None


@dataclass(frozen=True, slots=True)
class TeamChange:
    """A change to the sales team (a rep added, changed, removed, on duty): its events, on no
    customer's timeline; what the reps concerned are told; and what it does to customers'
    conversations (waiting leads and hand-offs offered), each run afterwards as a turn of its
    own. `rep_id` is the rep changed; `leads` the lead of each customer action, when any."""

    rep_id: int
    events: tuple[Event, ...] = ()
    notices: tuple[Notice, ...] = ()
    customer: tuple[CustomerAction, ...] = ()
    leads: tuple[int, ...] = ()


TeamAction = Callable[["Context", datetime], Awaitable["TeamChange | None"]]


@dataclass(frozen=True, slots=True)
class Desk:
    """What a rep's message comes to: words back to the rep (about a conversation, so that
    answering them answers it), and actions on customers' conversations."""

    to_rep: tuple[str, ...] = ()
    about: int | None = None
    customer: tuple[CustomerAction, ...] = field(default_factory=tuple)
    notices: tuple[Notice, ...] = ()  # other messages to the rep (a sign-in link)
    events: tuple[Event, ...] = ()  # on no customer's timeline (a sign-in link sent)


class Mood(Protocol):
    """What sounds angry in a text (the signals found; none for a calm message)."""

    def signals(self, text: str) -> tuple[str, ...]: ...


class Business(Protocol):
    """The business as the engine sees it; built by the composition root from `handlers/`."""

    async def on_message(self, turn: Turn, ctx: Context) -> Routed:
        """A customer's message: route it and say what should happen."""

    async def on_opened(self, turn: Turn, ctx: Context) -> Result:
        """The customer opened the conversation without a word (a terminal started)."""

    async def on_timer(
        self, ctx: Context, conversation: Conversation, timer: Timer, now: datetime
    ) -> Result:
        """A durable timer of `conversation` fell due."""

    async def on_rep_message(
        self, ctx: Context, rep: Rep, message: InboundMessage, now: datetime, stored_id: int
    ) -> Desk:
        """A registered rep wrote to the bot (`stored_id`: the stored message)."""


@dataclass(frozen=True, slots=True)
class FlowConfig:
    company_name: str = "Touchpoint"
    default_language: str = "en"
    followup_after: timedelta = timedelta(hours=24)
    misses_before_handoff: int = 3
    hot_lead_score: int = 80  # a lead scoring this much goes on to a sales rep (101: never)
    message_id_domain: str = "touchpoint.invalid"  # the domain part of outbound Message-IDs
    claim_within: timedelta = timedelta(minutes=2)  # a rep's time to claim an offered hand-off
    handoff_idle: timedelta = timedelta(hours=1)  # a claimed hand-off returns to the bot after
    same_rep_within: timedelta = timedelta(days=3)  # a returning customer gets the same rep
    lead_accept_within: timedelta = timedelta(minutes=10)  # a rep's time to accept a lead card
    lead_sla: timedelta = timedelta(hours=1)  # a lead's first contact, else the managers hear
    rep_hours: RepHours | None = None  # None: reps are on duty whenever they say /online
    zone: ZoneInfo = UTC_ZONE  # the company's time zone (TIMEZONE): the times the bot shows
    replies_per_conversation: int = 20  # per 24 hours, on channels answered by machines
    relays_per_minute: int = 6  # customer messages relayed to a rep per hand-off; then a digest
    flood_limit: int = 20  # messages from one sender in `flood_window`; past it they are held
    flood_window: timedelta = timedelta(minutes=1)
    replies_per_address: int = 40  # per 24 hours
    # A hand-off nobody claimed ends after this (None: it waits for good); counted from the
    # reps' next opening when it was asked for out of hours.
    queue_within: timedelta | None = timedelta(minutes=30)
    quiet_hours: QuietHours | None = None  # proactive messages wait for their end
    console_url: str = ""  # the sales console's address (WEB_URL): sign-in links; "" for none
    console_link_for: timedelta = timedelta(minutes=10)  # a sign-in link's life (WEB_LOGIN_MINUTES)


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers need besides the transaction; built once in the composition root."""

    texts: Texts
    matcher: IntentMatcher
    config: FlowConfig
    anger: Mood
    business: Business
    channels: Mapping[str, Capabilities] = field(default_factory=dict)

    def context(self, uow: UnitOfWork) -> Context:
        return Context(uow, self.texts, self.matcher, self.config, self.anger, self.channels)

    def capabilities(self, channel: str) -> Capabilities:
        return self.channels.get(channel, NO_CAPABILITIES)


@dataclass(frozen=True, slots=True)
class Context:
    uow: UnitOfWork
    texts: Texts
    matcher: IntentMatcher
    config: FlowConfig
    anger: Mood
    channels: Mapping[str, Capabilities] = field(default_factory=dict)

    def capabilities(self, channel: str) -> Capabilities:
        """What `channel` can do (nothing special for a channel nobody declared)."""
        return self.channels.get(channel, NO_CAPABILITIES)

    def say(self, key: str, lang: str, /, **fields: object) -> str:
        return self.texts.get(key, lang, company=self.config.company_name, **fields)


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound message in the context of its conversation, as the router sees it.

    `stored_id` is the message's row in `messages` (None for a turn of the system)."""

    message: InboundMessage
    stored_id: int | None
    conversation: Conversation
    lang: str
    now: datetime

    @classmethod
    def of_system(cls, conversation: Conversation, now: datetime) -> Turn:
        """A turn started by the system (a timer, a rep, an operator), not by a customer."""
        address = Address(conversation.channel, conversation.address)
        message = InboundMessage(external_id="", address=address, sender=Sender(external_id=""))
        return cls(message, None, conversation, conversation.current.language, now)

    @property
    def state(self) -> ConversationState:
        return self.conversation.current

    @property
    def contact_id(self) -> int:
        return self.conversation.contact_id

    @property
    def text(self) -> str:
        return self.message.text.strip()
