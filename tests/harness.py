"""Test doubles at the seams and a harness that lets tests read like transcripts.

    alice = bot.customer("alice")
    assert await alice.say("I need a quote") == [...]

The harness runs the real dispatcher, router, handlers and relay on a real database; only the
channel (an in-memory list) and the clock are fakes.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.bootstrap import CAPABILITIES, build_services
from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.model import (
    Accept,
    AcceptResult,
    Address,
    Attachment,
    Capabilities,
    InboundKind,
    InboundMessage,
    OutboundMessage,
    Sender,
    SendError,
    SendReceipt,
)
from bot.records import Lead, LeadNote, Ticket
from bot.relay import Relay, RelayPolicy
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.turn import Services
from storage.uow import Database


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class FakeChannel:
    """Records what the relay sends; raises queued errors to simulate a failing channel."""

    name: str = "console"
    capabilities: Capabilities = field(default_factory=Capabilities)
    sent: list[OutboundMessage] = field(default_factory=list)
    failures: deque[SendError | Exception] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def run(self, accept: Accept) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self.failures:
            raise self.failures.popleft()
        self.sent.append(message)
        return SendReceipt(external_id=f"sent-{next(self._ids)}")

    async def close(self) -> None:
        return None

    def texts_to(self, address: str) -> list[str]:
        return [message.text for message in self.sent if message.address.value == address]


class BotHarness:
    """The bot as one process; `restart()` builds a new one on the same database."""

    def __init__(
        self, database: Database, clock: FakeClock, services: Services | None = None
    ) -> None:
        self.database = database
        self.clock = clock
        self.services = services or build_services(Settings(_env_file=None, timezone="UTC"))
        self.channels = {name: FakeChannel(name, CAPABILITIES[name]) for name in CAPABILITIES}
        self._external_ids = itertools.count(1)
        self.restart()

    def restart(self) -> None:
        """A new process: fresh dispatcher, relay, scheduler and metrics; nothing carried in
        memory."""
        self.metrics = Metrics()
        self.relay = Relay(
            self.database, self.channels, clock=self.clock, jitter=lambda: 0.5,
            policy=RelayPolicy(), on_sent=self.metrics.sent,
        )  # fmt: skip
        self.dispatcher = Dispatcher(
            self.database, self.services, clock=self.clock, on_turn=self.metrics.turn
        )
        self.scheduler = Scheduler(self.database, self.dispatcher, clock=self.clock)

    def customer(self, address: str, *, channel: str = "console", name: str = "") -> Customer:
        return Customer(self, Address(channel, address), name)

    def next_external_id(self) -> str:
        return f"m{next(self._external_ids)}"

    async def deliver(self) -> int:
        return await self.relay.deliver_due()

    async def leads(self) -> list[Lead]:
        async with self.database.transaction() as uow:
            return await uow.leads.search()

    async def lead_notes(self, lead_id: int) -> list[LeadNote]:
        async with self.database.transaction() as uow:
            return await uow.leads.notes(lead_id)

    async def tickets(self) -> list[Ticket]:
        async with self.database.transaction() as uow:
            return await uow.tickets.search()

    async def kinds(self, contact_id: int | None = None) -> list[str]:
        async with self.database.transaction() as uow:
            return [
                row.kind
                for row in await uow.touchpoints.search(contact_id=contact_id, limit=10_000)
            ]

    async def state_of(self, customer: Customer) -> tuple[str, str | None]:
        async with self.database.transaction() as uow:
            conversation = await uow.conversations.find(
                customer.address.channel, customer.address.value
            )
        assert conversation is not None
        return conversation.current.state, conversation.current.step


class Customer:
    """One person writing to the bot on one channel."""

    def __init__(self, bot: BotHarness, address: Address, name: str) -> None:
        self.bot = bot
        self.address = address
        self.name = name
        self.last_result: AcceptResult | None = None

    @property
    def channel(self) -> FakeChannel:
        return self.bot.channels[self.address.channel]

    def message(self, text: str = "", **fields: object) -> InboundMessage:
        fields.setdefault("external_id", self.bot.next_external_id())
        fields.setdefault("received_at", self.bot.clock.now)
        sender = Sender(external_id=self.address.value, display_name=self.name)
        return InboundMessage(address=self.address, sender=sender, text=text, **fields)  # type: ignore[arg-type]

    async def send(self, message: InboundMessage) -> list[str]:
        """Accept the message, let the relay deliver, return the texts this customer got."""
        before = len(self.channel.texts_to(self.address.value))
        self.last_result = await self.bot.dispatcher.accept(message)
        await self.bot.deliver()
        return self.channel.texts_to(self.address.value)[before:]

    async def say(self, text: str, **fields: object) -> list[str]:
        return await self.send(self.message(text, **fields))

    async def open(self) -> list[str]:
        """Open the conversation without a word, as a terminal does when it starts."""
        return await self.send(self.message(kind=InboundKind.OPENED))

    async def press(self, data: str) -> list[str]:
        return await self.send(self.message(button=data))

    async def attach(self, kind: str, text: str = "") -> list[str]:
        return await self.send(
            self.message(text, attachments=(Attachment(kind=kind, name=f"file.{kind}"),))
        )

    def last_options(self) -> list[str]:
        sent = [m for m in self.channel.sent if m.address.value == self.address.value]
        return [option.data for option in sent[-1].options] if sent else []
