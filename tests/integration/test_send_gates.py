"""A channel paced per account (Telegram) is sent by one instance at a time: two relays on one
database, each with its own leadership (bot/send_gates.py). Only the holder of the sender lease
leases the channel's rows; the other sends the rest (mail); when the holder loses the lease the
other takes over and sends what is left, none twice, each conversation's replies in order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from bot.bootstrap import send_gates
from bot.cursors import DatabaseOffsets
from bot.leadership import LeaderLease, Leadership
from bot.model import Capabilities, OutboundMessage, SendReceipt
from bot.relay import Relay
from bot.send_gates import LeaseGate
from channels.console import ConsoleChannel
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from storage.repos.outbox import NewOutbound
from storage.uow import Database
from tests.harness import FakeClock
from tests.integration.helpers import new_conversation, outbox_rows
from tests.waiting import eventually

LENGTH = timedelta(seconds=15)
LEASE = "telegram-sender/123"
PACED = Capabilities(paced_per_account=True)
CHATS = ("7001", "7002", "7003")
REPLIES = 4  # to each chat, queued at once


@dataclass
class Wire:
    """What reached the outside world, from either instance, in the order it was sent."""

    sent: list[tuple[str, str, str, str]] = field(default_factory=list)  # instance, channel, ...
    times: list[float] = field(default_factory=list)  # time.monotonic() of each send
    ids: itertools.count[int] = field(default_factory=itertools.count)
    held: asyncio.Event | None = None  # set: the next send waits for it (a send in flight)
    in_flight: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, channel: str) -> list[tuple[str, str, str, str]]:
        return [sent for sent in self.sent if sent[1] == channel]


@dataclass
class Channel:
    """One instance's adapter of one channel, sending onto the shared wire."""

    name: str
    instance: str
    wire: Wire
    capabilities: Capabilities = field(default_factory=Capabilities)

    async def run(self, accept: object) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendReceipt:
        held, self.wire.held = self.wire.held, None
        if held is not None:
            self.wire.in_flight.set()
            await held.wait()
        address = message.address.value
        self.wire.sent.append((self.instance, self.name, address, message.text))
        self.wire.times.append(time.monotonic())
        return SendReceipt(external_id=f"{self.name}-{next(self.wire.ids)}")

    async def close(self) -> None:
        return None


class Instance:
    """One `touchpoint run`: its leadership with the sender lease, and its relay."""

    def __init__(
        self,
        database: Database,
        name: str,
        clock: FakeClock,
        wire: Wire,
        length: timedelta = LENGTH,
        settle: float = 0.0,
    ) -> None:
        self.leadership = Leadership(database, name, length, clock=clock)
        self.lease: LeaderLease = self.leadership.lease(LEASE)
        adapters = {
            "telegram": Channel("telegram", name, wire, PACED),
            "email": Channel("email", name, wire),
        }
        gates = {"telegram": LeaseGate(self.lease, settle=settle)}
        self.relay = Relay(database, adapters, clock=clock, jitter=lambda: 0.5, gates=gates)


async def queue_replies(database: Database, clock: FakeClock) -> None:
    """Four replies to each of three Telegram chats and to one mailbox."""
    async with database.transaction() as uow:
        rows = []
        for chat in CHATS:
            chat_conversation = await new_conversation(uow, clock(), chat, "telegram")
            rows += [reply(chat_conversation.id, "telegram", chat, n) for n in range(REPLIES)]
        mail = await new_conversation(uow, clock(), "ann@example.org", "email")
        rows += [reply(mail.id, "email", "ann@example.org", n) for n in range(REPLIES)]
        await uow.outbox.enqueue(rows, clock())
        await uow.commit()


def reply(conversation_id: int, channel: str, address: str, n: int) -> NewOutbound:
    return NewOutbound(channel, address, f"{address} #{n}", conversation_id=conversation_id)


def assert_each_sent_once_in_order(wire: Wire) -> None:
    telegram = wire.of("telegram")
    assert Counter(text for *_, text in telegram) == Counter(
        f"{chat} #{n}" for chat in CHATS for n in range(REPLIES)
    ), "every Telegram reply sent, and once"
    for chat in CHATS:
        texts = [text for _, _, address, text in telegram if address == chat]
        assert texts == [f"{chat} #{n}" for n in range(REPLIES)], f"chat {chat} out of order"


@asynccontextmanager
async def running(instance: Instance) -> AsyncIterator[None]:
    """The instance's relay and its send gates kept as `run` keeps them, stopped on leaving."""
    gates = asyncio.create_task(instance.relay.keep_gates())
    relay = asyncio.create_task(instance.relay.run())
    try:
        yield
    finally:
        instance.relay.stop()
        await relay
        gates.cancel()
        await asyncio.gather(gates, return_exceptions=True)


async def every_telegram_reply_sent(wire: Wire) -> None:
    await eventually(
        lambda: len(wire.of("telegram")) == len(CHATS) * REPLIES,
        what="the Telegram replies sent",
    )


async def alpha_sending(database: Database, clock: FakeClock) -> tuple[Wire, Instance, Instance]:
    """Two instances on one wire, the replies queued, alpha holding the sender's lease."""
    wire = Wire()
    alpha = Instance(database, "alpha", clock, wire)
    beta = Instance(database, "beta", clock, wire)
    await queue_replies(database, clock)
    assert await alpha.lease.take()
    return wire, alpha, beta


async def test_only_the_sender_lease_holder_sends_telegram_rows_the_other_sends_mail(
    database: Database, clock: FakeClock
) -> None:
    wire, alpha, beta = await alpha_sending(database, clock)
    assert not await beta.lease.take()

    assert await beta.relay.deliver_due() == REPLIES  # the mail only
    assert {(who, channel) for who, channel, *_ in wire.sent} == {("beta", "email")}

    assert await alpha.relay.deliver_due() == len(CHATS) * REPLIES
    assert {who for who, *_ in wire.of("telegram")} == {"alpha"}
    assert_each_sent_once_in_order(wire)
    assert alpha.leadership.held() == {LEASE: True}
    assert beta.leadership.held() == {LEASE: False}


async def test_a_lost_sender_lease_stops_its_relay_at_once_and_the_other_sends_the_rest(
    database: Database, clock: FakeClock
) -> None:
    wire, alpha, beta = await alpha_sending(database, clock)
    assert await alpha.relay.deliver_due(limit=2) == 2  # 7001's first two replies

    # Alpha's next send hangs (a slow network); meanwhile its lease runs out and beta's comes.
    wire.held = slow = asyncio.Event()
    sending = asyncio.create_task(alpha.relay.deliver_due())
    await asyncio.wait_for(wire.in_flight.wait(), 10)
    clock.advance(seconds=LENGTH.total_seconds() + 1)
    assert await beta.lease.take()
    assert not await alpha.lease.renew()  # alpha learns it was taken over: its gate shuts

    sent_by_beta = await beta.relay.deliver_due()
    slow.set()  # the send in flight ends, under its row's own lease
    assert await sending == 1, "alpha took no Telegram row after its lease was lost"
    sent_by_beta += await beta.relay.deliver_due()  # 7001's rest, behind the one in flight

    assert sent_by_beta == len(CHATS) * REPLIES - 3 + REPLIES  # all but alpha's three
    assert_each_sent_once_in_order(wire)
    assert {row.status for row in await outbox_rows(database)} == {"sent"}


async def test_a_relay_standing_by_takes_over_sending_when_the_holder_stops(
    database: Database,
) -> None:
    """Real pauses, a short lease: the gates are kept as `run` keeps them, and the relay of the
    instance that takes the lease over starts sending at once (the gate wakes it)."""
    wire, clock, short = Wire(), FakeClock(), timedelta(seconds=0.6)
    alpha = Instance(database, "alpha", clock, wire, short)
    beta = Instance(database, "beta", clock, wire, short)
    assert await alpha.lease.take()
    async with running(beta):
        await queue_replies(database, clock)
        beta.relay.wake()
        await eventually(lambda: len(wire.of("email")) == REPLIES, what="beta sends the mail")
        assert wire.of("telegram") == []

        await alpha.lease.release()  # alpha stops cleanly: beta's standby takes the lease
        await every_telegram_reply_sent(wire)
    assert {who for who, *_ in wire.of("telegram")} == {"beta"}
    assert_each_sent_once_in_order(wire)
    assert beta.leadership.held() == {LEASE: False}, "a stopped relay lets the lease go"


async def test_the_instance_taking_over_sends_nothing_for_the_pacing_window(
    database: Database,
) -> None:
    """The holder before may have sent the account's limit in the last second before it let
    go, and the new holder's pacer knows nothing of those sends: it waits the window out."""
    wire, clock, short, window = Wire(), FakeClock(), timedelta(seconds=0.6), 0.5
    alpha = Instance(database, "alpha", clock, wire, short)
    beta = Instance(database, "beta", clock, wire, short, settle=window)
    assert await alpha.lease.take()
    async with running(beta):
        await queue_replies(database, clock)
        await alpha.lease.release()
        released = time.monotonic()
        await every_telegram_reply_sent(wire)
    first = min(at for at, sent in zip(wire.times, wire.sent, strict=True) if sent[1] == "telegram")
    assert first - released >= window
    assert_each_sent_once_in_order(wire)


async def test_run_gives_telegram_a_sender_lease_on_postgresql_and_none_on_sqlite(
    database: Database, clock: FakeClock
) -> None:
    leadership = Leadership(database, "alpha", LENGTH, clock=clock)
    telegram = TelegramChannel(
        TelegramConfig(token="123456:TEST-token"), DatabaseOffsets(database, "offset:123456")
    )
    console = ConsoleChannel("alice")

    gates = send_gates(database, [telegram, console], leadership)

    if database.is_sqlite:  # one `run` per file: nothing to share
        assert gates == {}
        assert leadership.held() == {}
    else:
        assert list(gates) == ["telegram"]
        assert leadership.held() == {"telegram-sender/123456": False}


async def test_a_sender_lease_run_out_by_its_own_clock_shuts_the_gate_before_any_renewal(
    database: Database, clock: FakeClock
) -> None:
    """A process paused past its lease (a stopped VM) sends nothing when it wakes, even before
    its heartbeat learns that the lease is gone."""
    wire = Wire()
    alpha = Instance(database, "alpha", clock, wire)
    await queue_replies(database, clock)
    assert await alpha.lease.take()
    clock.advance(seconds=LENGTH.total_seconds() + 1)

    assert await alpha.relay.deliver_due() == REPLIES  # the mail only
    assert wire.of("telegram") == []
