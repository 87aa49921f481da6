"""Plain records read from the database: what the core and the CLI work with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TICKET_NUMBER_OFFSET = 1000


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
    data: dict[str, Any] = field(default_factory=dict)
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


@dataclass(frozen=True, slots=True)
class Rep:
    id: int
    name: str
    languages: tuple[str, ...]
    telegram_user_id: str | None
    email: str | None
    role: str
    capacity: int
    on_duty: bool
    active: bool


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
    forward_message_id: int | None = None  # the customer's message to show as it is
    automatic: bool = True


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
