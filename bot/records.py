"""Plain records read from the database: what the core and the CLI work with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict, get_args

from bot.model import Address

TICKET_NUMBER_OFFSET = 1000
# A rep registered on several channels is reached on the first of these they have (then on
# any other channel): Telegram is read at once, mail maybe hours later.
REP_CHANNEL_PREFERENCE = ("telegram", "email")


def ticket_number(ticket_id: int) -> int:
    """The short public number of a ticket (ids start at 1, so numbers start at 1001)."""
    return ticket_id + TICKET_NUMBER_OFFSET


def ticket_id_from_number(number: int) -> int:
    return number - TICKET_NUMBER_OFFSET


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    display_name: str
    company: str | None
    language: str | None
    owner_rep_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Identity:
    id: int
    contact_id: int
    channel: str
    address: str
    reachable: bool
    verified: bool = True  # False: only typed by the contact (a claim)


LeadField = Literal["need", "name", "company", "email", "phone", "budget", "timeline"]
LEAD_FIELDS: tuple[LeadField, ...] = get_args(LeadField)


def lead_field(name: str | None) -> LeadField | None:
    """`name` as a lead answer's key, when it is one (steps and buttons name them as text)."""
    return next((known for known in LEAD_FIELDS if known == name), None)


def with_answers(data: FlowData, answers: Mapping[LeadField, str], *, keep: bool) -> FlowData:
    """`data` with `answers` added; `keep` leaves answers already given as they are."""
    merged = data.copy()
    for name, value in answers.items():
        if not (keep and merged.get(name)):
            merged[name] = value
    return merged


class FlowData(TypedDict, total=False):
    """What a conversation remembers between turns (JSON in `conversations.data`).

    Every key is optional; a flow keeps only its own keys (`handlers/common.idle` says which
    outlive a flow).
    """

    # any flow
    offered: list[list[str]]  # [label, data] of the options last offered ("2" picks one)
    greeted: bool  # the bot introduced itself here: a later "hi" gets a short answer
    source: str  # the campaign of a `/start` deep link
    ticket_id: int  # the conversation's current ticket
    handoff_id: int | None  # the hand-off in progress
    reminded_at: str  # ISO time the customer waiting for a rep was last told they wait
    # lead capture: the answers so far, and what was asked
    need: str
    name: str
    company: str
    email: str
    phone: str
    budget: str
    timeline: str
    offered_name: str  # the channel's display name, offered as a button
    questions: list[str]  # the customer's own questions during the flow, noted for the rep
    lead_id: int  # mail: the lead saved in this thread, which later answers complete
    asked: list[str]  # mail: the questions of the last form
    rounds: int  # mail: how many forms were sent
    # service intake
    category: str
    # satisfaction: the question waiting for its answer, and a rating that may get a comment
    csat: dict[str, Any]
    csat_comment: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContactMerge:
    """One contact merged into another: the ids of the rows it moved, per table."""

    id: int
    source_contact_id: int
    target_contact_id: int
    moved: dict[str, list[int]]
    merged_at: datetime
    undone_at: datetime | None

    @property
    def counts(self) -> dict[str, int]:
        return {table: len(ids) for table, ids in self.moved.items()}


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The part of a conversation a handler may change: flow, step and collected answers."""

    state: str = "idle"
    step: str | None = None
    data: FlowData = field(default_factory=lambda: FlowData())
    language: str = "en"
    misses: int = 0


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    contact_id: int
    channel: str
    thread_key: str
    address: str
    subject: str | None
    rep_id: int | None
    version: int
    current: ConversationState
    created: bool = False
    reachable: bool = True
    address_rep_id: int | None = None  # the address belongs to a registered rep
    active_slot: datetime | None = None  # its latest quarter-hour counted as active
    last_sequence: int | None = None  # the channel's highest sequence handled in order

    def handled_after(self, sequence: int | None) -> bool:
        """A message of `sequence` is older than one handled in order here: it came late."""
        handled = self.last_sequence
        return sequence is not None and handled is not None and sequence < handled


@dataclass(frozen=True, slots=True)
class Lead:
    id: int
    contact_id: int
    conversation_id: int | None
    status: str
    need: str
    name: str | None
    company: str | None
    email: str | None
    phone: str | None
    budget: str | None
    timeline: str | None
    source: str | None
    score: int
    created_at: datetime
    owner_rep_id: int | None = None
    offered_rep_id: int | None = None
    offered_to: tuple[int, ...] = ()
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    contacted_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    lost_reason: str | None = None
    next_step: str | None = None
    next_step_due_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Still being worked: not won or lost."""
        return self.status not in CLOSED_LEAD_STAGES


# A lead moves new → contacted → qualified → proposal → won | lost; `waiting` is a new lead
# nobody could be told of (no rep with a channel), moved on to `new` when one can be.
LEAD_STAGES = ("new", "contacted", "qualified", "proposal", "won", "lost")
CLOSED_LEAD_STAGES = frozenset({"won", "lost"})


@dataclass(frozen=True, slots=True)
class LeadNote:
    id: int
    lead_id: int
    rep_id: int | None
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    contact_id: int
    conversation_id: int | None
    status: str
    category: str
    summary: str
    created_at: datetime
    updated_at: datetime

    @property
    def number(self) -> int:
        return ticket_number(self.id)


@dataclass(frozen=True, slots=True)
class Handoff:
    id: int
    conversation_id: int
    contact_id: int
    rep_id: int | None
    reason: str
    status: str
    summary: str | None
    requested_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    offered_at: datetime | None = None
    offered_to: tuple[int, ...] = ()
    first_answer_at: datetime | None = None


def rep_channel_rank(address: Address) -> int:
    """How much a rep's address is preferred for reaching them (lower first)."""
    if address.channel in REP_CHANNEL_PREFERENCE:
        return REP_CHANNEL_PREFERENCE.index(address.channel)
    return len(REP_CHANNEL_PREFERENCE)


@dataclass(frozen=True, slots=True)
class Rep:
    id: int
    name: str
    languages: tuple[str, ...]
    identities: tuple[Address, ...]  # where the rep writes from and is written to, preferred first
    role: str
    capacity: int
    on_duty: bool
    active: bool
    console_language: str | None = None  # the console's pages; their first language if None

    @property
    def page_language(self) -> str:
        """The language of this person's console pages."""
        return self.console_language or (self.languages[0] if self.languages else "en")

    @property
    def reached_at(self) -> Address | None:
        """Where cards and relayed messages go: Telegram when registered there, else email."""
        return min(self.identities, key=rep_channel_rank, default=None)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    conversation_id: int | None
    channel: str
    address: str
    text: str
    options: list[dict[str, str]]
    contact_button: str
    subject: str
    header_id: str | None  # the Message-ID of a mail (threaded channels)
    in_reply_to: str | None
    references: list[str]
    attempts: int
    ticket: int | None = None
    contact_id: int | None = None
    reachable: bool = True
    # Sent to an address that bounced, whose owner has written since: a success clears it.
    retrying: bool = False
    forward_message_id: int | None = None  # the customer's message to show as it is
    automatic: bool = True
    reply_token: str | None = None  # a mail to a rep: the rep's token in its reply address
    lease_token: str | None = None  # the relay's lease the row is being sent under
    link_previews: bool = True  # False: the channel must not fetch the links to show them
    parts_sent: int = 0  # parts of a long message delivered by earlier tries


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    kind: str
    due_at: datetime
    conversation_id: int | None
    ticket_id: int | None
    handoff_id: int | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class TouchpointRow:
    id: int
    contact_id: int | None
    conversation_id: int | None
    channel: str
    kind: str
    actor: str
    occurred_at: datetime
    details: dict[str, Any]
