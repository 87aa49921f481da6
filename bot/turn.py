"""What a handler receives (a Turn and its Context) and what it returns (a Result).

Handlers read and write business rows through `ctx.uow` inside the turn's transaction, but they
never commit and never send: replies and touchpoint events travel back in the `Result`, and the
dispatcher turns them into outbox rows and touchpoints before it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.intents import IntentMatcher
from bot.model import InboundMessage, QuickReply
from handlers.texts import Texts
from storage.records import Conversation, ConversationState
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    options: tuple[QuickReply, ...] = ()
    contact_button: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """A business event; the dispatcher records it as a touchpoint."""

    kind: str
    details: dict[str, Any] = field(default_factory=dict)
    actor: str = "bot"


@dataclass(frozen=True, slots=True)
class Result:
    replies: tuple[Reply, ...] = ()
    events: tuple[Event, ...] = ()
    state: ConversationState | None = None


@dataclass(frozen=True, slots=True)
class FlowConfig:
    company_name: str = "Touchpoint"
    default_language: str = "en"
    followup_after: timedelta = timedelta(hours=24)
    misses_before_handoff: int = 3
    message_id_domain: str = "touchpoint.invalid"  # the domain part of outbound Message-IDs
    capped_channels: tuple[str, ...] = ("email",)  # see bot/caps.py
    one_message_channels: tuple[str, ...] = ("email",)  # a turn's replies go as one message
    replies_per_conversation: int = 20  # per 24 hours
    replies_per_address: int = 40  # per 24 hours


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers need besides the transaction; built once in the composition root."""

    texts: Texts
    matcher: IntentMatcher
    config: FlowConfig

    def context(self, uow: UnitOfWork) -> Context:
        return Context(uow, self.texts, self.matcher, self.config)


@dataclass(frozen=True, slots=True)
class Context:
    uow: UnitOfWork
    texts: Texts
    matcher: IntentMatcher
    config: FlowConfig

    def say(self, key: str, lang: str, /, **fields: object) -> str:
        return self.texts.get(key, lang, company=self.config.company_name, **fields)


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound message in the context of its conversation, as the router sees it."""

    message: InboundMessage
    message_id: int | None
    conversation: Conversation
    lang: str
    now: datetime

    @property
    def state(self) -> ConversationState:
        return self.conversation.current

    @property
    def contact_id(self) -> int:
        return self.conversation.contact_id

    @property
    def text(self) -> str:
        return self.message.text.strip()
