"""The relay in batches: many rows leased in one statement, sent side by side, settled together,
with the guarantees of one row at a time (order per conversation and chat, gates, fencing,
at-least-once through a crash)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.model import (
    OutboundMessage,
    PermanentSendError,
    SendError,
    SendReceipt,
    ThrottledSendError,
    TransientSendError,
)
from bot.relay import Relay, RelayPolicy
from storage.repos.outbox import NewOutbound, SentRow
from tests.harness import BotHarness, FakeChannel
from tests.integration.helpers import another_instance, kinds, outbox_rows, stored_messages

GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)
MENU = "What would you like to do?"
LEASE = RelayPolicy().lease


@dataclass
class ConcurrentChannel(FakeChannel):
    """Sends that take a moment (longer to some chats), counting how many are in flight at once;
    errors queued per address."""

    slow_chats: frozenset[str] = frozenset()
    errors: dict[str, list[SendError | Exception]] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    after_send: Callable[[int], None] = lambda count: None

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.02 if message.address.value in self.slow_chats else 0.001)
            queued = self.errors.get(message.address.value)
            if queued:
                raise queued.pop(0)
            receipt = await super().send(message)
        finally:
            self.in_flight -= 1
        self.after_send(len(self.sent))
        return receipt


@dataclass
class Gate:
    open: bool

    async def keep(self, opened: Callable[[], None]) -> None:
        await asyncio.Event().wait()


async def _queue_at(bot: BotHarness, *rows: NewOutbound) -> None:
    async with bot.database.transaction() as uow:
        await uow.outbox.enqueue(list(rows), bot.clock())
        await uow.commit()


def _relay(bot: BotHarness, channel: FakeChannel, **policy: object) -> Relay:
    return Relay(
        bot.database,
        {"console": channel},
        clock=bot.clock,
        jitter=lambda: 0.5,
        policy=RelayPolicy(**policy),  # type: ignore[arg-type]
    )


async def test_one_claim_leases_the_oldest_unsent_row_of_each_conversation(
    bot: BotHarness,
) -> None:
    customers = [bot.customer(f"customer-{n}") for n in range(4)]
    for customer in customers:
        await bot.dispatcher.accept(customer.message("Hello"))  # a greeting and a menu each

    async with bot.database.transaction() as uow:
        batch = await uow.outbox.claim_batch(bot.clock(), LEASE, ["console"], "a:1", limit=100)
        more = await uow.outbox.claim_batch(bot.clock(), LEASE, ["console"], "a:2", limit=100)
        await uow.commit()

    assert [row.text for row in batch] == [GREETING] * 4  # each menu waits for its greeting
    assert [row.id for row in batch] == sorted(row.id for row in batch)
    assert len({row.conversation_id for row in batch}) == 4
    assert {(row.lease_token, row.attempts) for row in batch} == {("a:1", 1)}
    assert all(row.reachable and row.contact_id is not None for row in batch)
    assert more == []


async def test_a_claim_takes_no_more_than_its_limit_and_the_rest_stays_pending(
    bot: BotHarness,
) -> None:
    await _queue_at(bot, *(NewOutbound("console", f"chat-{n}", f"reply {n}") for n in range(5)))

    async with bot.database.transaction() as uow:
        batch = await uow.outbox.claim_batch(bot.clock(), LEASE, ["console"], "a:1", limit=3)
        await uow.commit()

    assert [row.text for row in batch] == ["reply 0", "reply 1", "reply 2"]
    rows = await outbox_rows(bot.database)
    assert [row.status for row in rows] == ["sending"] * 3 + ["pending"] * 2


async def test_a_shut_gate_keeps_its_channel_out_of_the_batch(bot: BotHarness) -> None:
    alice, lea = bot.customer("alice"), bot.customer("5001", channel="telegram")
    await bot.dispatcher.accept(alice.message("thanks"))
    await bot.dispatcher.accept(lea.message("thanks"))
    gate = Gate(open=False)
    relay = Relay(bot.database, bot.channels, clock=bot.clock, gates={"telegram": gate})

    assert await relay.deliver_due() == 1
    assert lea.channel.sent == [] and len(alice.channel.sent) == 1

    gate.open = True
    assert await relay.deliver_due() == 1
    assert len(lea.channel.sent) == 1


async def test_a_batch_settles_only_the_rows_still_leased_under_its_token(
    bot: BotHarness,
) -> None:
    await _queue_at(bot, NewOutbound("console", "alice", "first"))
    async with bot.database.transaction() as uow:
        [slow] = await uow.outbox.claim_batch(bot.clock(), LEASE, ["console"], "slow:1", limit=9)
        await uow.commit()
    bot.clock.advance(seconds=LEASE.total_seconds() + 1)  # its lease runs out
    channel = ConcurrentChannel()
    assert await _relay(bot, channel).deliver_due() == 1  # another relay takes it and sends

    async with bot.database.transaction() as uow:  # the slow relay settles at last
        assert await uow.outbox.held_of_batch("slow:1", [slow.id]) == set()
        late = SentRow(slow, "late-send", slow.text)
        assert await uow.outbox.mark_sent("slow:1", [late], bot.clock()) == set()
        assert await uow.outbox.mark_sent("slow:1", [late, late], bot.clock()) == set()
        assert await uow.outbox.renew_batch("slow:1", bot.clock() + LEASE) == 0
        assert not await uow.outbox.mark_failed(slow, "timeout")  # a failure is fenced too
        await uow.commit()
    [row] = await outbox_rows(bot.database)
    assert (row.status, row.attempts) == ("sent", 2)
    assert (await kinds(bot.database)).count("delivered") == 1


@dataclass
class OutlastedChannel(FakeChannel):
    """Its first send outlasts the row's lease: meanwhile `meanwhile` runs (another relay)."""

    meanwhile: Callable[[], Awaitable[None]] = lambda: asyncio.sleep(0)
    outlasted: bool = False

    async def send(self, message: OutboundMessage) -> SendReceipt:
        receipt = await super().send(message)
        if not self.outlasted:
            self.outlasted = True
            await self.meanwhile()
        return receipt


async def test_a_reply_whose_lease_ran_out_during_its_send_is_left_to_the_relay_that_took_it(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch of one is settled trusting its lease: when that trust was wrong, the settling is
    undone and done again asking, and the next reply is still leased and sent."""
    alice, bob = bot.customer("alice"), bot.customer("bob")
    await bot.dispatcher.accept(alice.message("thanks"))
    await bot.dispatcher.accept(bob.message("thanks"))
    other = FakeChannel()

    async def taken_over() -> None:
        bot.clock.advance(seconds=LEASE.total_seconds() + 1)
        assert await _relay(bot, other).deliver_due(limit=1) == 1

    slow = OutlastedChannel(meanwhile=taken_over)
    with caplog.at_level(logging.WARNING, logger="bot.relay"):
        assert await _relay(bot, slow).deliver_due() == 2

    assert [message.address.value for message in slow.sent] == ["alice", "bob"]
    assert [message.address.value for message in other.sent] == ["alice"]  # the one repeat
    rows = await outbox_rows(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 2), ("sent", 1)]
    outbound = await stored_messages(bot.database, direction="out")
    # Alice's by the other relay's first send, Bob's by this relay's second; its repeat of
    # Alice's (its own "sent-0") is not stored.
    assert sorted(message.external_id for message in outbound) == ["out:sent-0", "out:sent-1"]
    assert (await kinds(bot.database)).count("delivered") == 2  # alice's once, bob's once
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning == f"outbox row {rows[0].id} was sent after its lease was lost"


async def test_concurrent_sends_keep_each_chat_in_order(bot: BotHarness) -> None:
    customers = [bot.customer(f"customer-{n}") for n in range(6)]
    for customer in customers:
        await bot.dispatcher.accept(customer.message("Hello"))
    # Notices to a rep belong to no conversation: the chat orders them (one batch holds all).
    await _queue_at(bot, *(NewOutbound("console", "rep", f"notice {n}") for n in range(5)))
    channel = ConcurrentChannel(slow_chats=frozenset({"rep", "customer-0"}))

    attempted = await _relay(bot, channel, batch=20, concurrency=4).deliver_due()

    assert attempted == 17
    for customer in customers:
        assert channel.texts_to(customer.address.value) == [GREETING, MENU]
    assert channel.texts_to("rep") == [f"notice {n}" for n in range(5)]
    assert 1 < channel.most_in_flight <= 4
    assert [row.status for row in await outbox_rows(bot.database)] == ["sent"] * 17


async def test_a_batch_settles_deliveries_retries_throttles_and_failures_each_as_before(
    bot: BotHarness,
) -> None:
    names = ("delivered", "transient", "throttled", "permanent", "blocked")
    await _queue_at(bot, *(NewOutbound("console", name, f"to {name}") for name in names))
    channel = ConcurrentChannel(
        errors={
            "transient": [TransientSendError("502 Bad Gateway")],
            "throttled": [ThrottledSendError("pace of this chat", 3.0)],
            "permanent": [PermanentSendError("Bad Request: message is too long")],
            "blocked": [PermanentSendError("Forbidden: bot was blocked", unreachable=True)],
        }
    )

    assert await _relay(bot, channel, batch=5, concurrency=5).deliver_due() == 5

    rows = {row.text: row for row in await outbox_rows(bot.database)}
    statuses = {text: (row.status, row.attempts, row.last_error) for text, row in rows.items()}
    assert statuses == {
        "to delivered": ("sent", 1, None),
        "to transient": ("pending", 1, "502 Bad Gateway"),
        "to throttled": ("pending", 0, "pace of this chat"),  # no attempt spent
        "to permanent": ("failed", 1, "Bad Request: message is too long"),
        "to blocked": ("failed", 1, "Forbidden: bot was blocked"),
    }
    # Backoff as for one row: full jitter of 2 s at 0.5 → 1 s; the throttle's own 3 s.
    assert rows["to transient"].next_attempt_at == bot.clock() + timedelta(seconds=1)
    assert rows["to throttled"].next_attempt_at == bot.clock() + timedelta(seconds=3)
    assert sorted(await kinds(bot.database)) == ["delivered", "failed", "failed"]
    assert [m.external_id for m in await stored_messages(bot.database, "out")] == ["out:sent-0"]

    bot.clock.advance(seconds=5)
    assert await _relay(bot, channel).deliver_due() == 2
    assert channel.texts_to("transient") == ["to transient"]
    assert channel.texts_to("throttled") == ["to throttled"]


async def test_a_crash_between_sends_and_settling_repeats_at_most_the_batch(
    bot: BotHarness,
) -> None:
    await _queue_at(bot, *(NewOutbound("console", f"chat-{n}", f"reply {n}") for n in range(10)))
    channel = ConcurrentChannel()
    crashed = _relay(bot, channel, batch=4, concurrency=4, holder="host")
    delivering = asyncio.create_task(crashed.deliver_due())

    # The process dies right after the sixth send: the first batch of four is settled, the
    # second is sent in part and settled not at all.
    def die_after_the_sixth(count: int) -> None:
        if count == 6:
            delivering.cancel()

    channel.after_send = die_after_the_sixth
    await asyncio.gather(delivering, return_exceptions=True)
    sent_before = [message.text for message in channel.sent]

    channel.after_send = lambda count: None
    restarted = _relay(bot, channel, batch=4, concurrency=4, holder="host")
    await restarted.reclaim()
    assert await restarted.deliver_due() > 0

    times = Counter(message.text for message in channel.sent)
    assert set(times) == {f"reply {n}" for n in range(10)}  # nothing lost
    repeated = [text for text, count in times.items() if count > 1]
    assert all(times[text] == 2 for text in repeated)
    assert len(repeated) <= 4  # at most the batch in hand
    assert set(repeated) <= set(sent_before[4:])  # and only replies of that batch
    assert [row.status for row in await outbox_rows(bot.database)] == ["sent"] * 10
    assert (await kinds(bot.database)).count("delivered") == 10


async def test_two_relays_in_batches_never_send_a_row_twice(bot: BotHarness) -> None:
    customers = [bot.customer(f"customer-{n}") for n in range(12)]
    for customer in customers:
        await bot.dispatcher.accept(customer.message("Hello"))
    # Notices without a conversation: ordered within a relay's batch, not between two relays.
    await _queue_at(bot, *(NewOutbound("console", "rep", f"notice {n}") for n in range(3)))
    channel = ConcurrentChannel(slow_chats=frozenset({"customer-3", "customer-7"}))
    policy = RelayPolicy(batch=5, concurrency=3)

    async with another_instance(bot.database) as database:
        one = Relay(bot.database, {"console": channel}, clock=bot.clock, policy=policy)
        other = Relay(database, {"console": channel}, clock=bot.clock, policy=policy)
        counts = await asyncio.gather(one.deliver_due(), other.deliver_due())

    assert sum(counts) == 27
    assert len(channel.sent) == 27  # each row once
    for customer in customers:
        assert channel.texts_to(customer.address.value) == [GREETING, MENU]
    assert sorted(channel.texts_to("rep")) == [f"notice {n}" for n in range(3)]
    assert (await kinds(bot.database)).count("delivered") == 27


async def test_a_short_pause_of_the_channel_is_waited_out_with_the_batch_leased(
    bot: BotHarness,
) -> None:
    await _queue_at(bot, *(NewOutbound("console", f"chat-{n}", f"reply {n}") for n in range(6)))
    # Held back after the first of its parts had gone out: the next try starts after it.
    pace = ThrottledSendError("overall pace", 0.05, whole_channel=True, parts_done=1)
    channel = ConcurrentChannel(errors={"chat-2": [pace]})

    assert await _relay(bot, channel, batch=6, concurrency=2).deliver_due() == 6

    assert sorted(message.text for message in channel.sent) == [f"reply {n}" for n in range(6)]
    assert [m.parts_done for m in channel.sent if m.address.value == "chat-2"] == [1]
    rows = await outbox_rows(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1)] * 6


async def test_a_long_pause_of_the_channel_postpones_the_rest_of_the_batch_unsent(
    bot: BotHarness,
) -> None:
    await _queue_at(bot, *(NewOutbound("console", f"chat-{n}", f"reply {n}") for n in range(6)))
    flood = ThrottledSendError("Telegram flood control (429)", 30.0, whole_channel=True)
    channel = ConcurrentChannel(errors={"chat-0": [flood]})

    assert await _relay(bot, channel, batch=6, concurrency=1).deliver_due() == 6

    assert channel.sent == []  # one send at a time: the first met the 429, the rest waited
    rows = await outbox_rows(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("pending", 0)] * 6
    assert all(row.next_attempt_at >= bot.clock() + timedelta(seconds=29) for row in rows)
