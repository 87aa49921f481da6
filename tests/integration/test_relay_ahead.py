"""One reply at a time from rows leased ahead: one lease for many replies, yet each is marked sent
before the next send, so a crash repeats at most the one in flight; a stop gives back the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select

from bot.model import OutboundMessage, SendReceipt
from bot.relay import Relay
from storage.tables import outbox
from storage.uow import Database, UnitOfWork
from tests.harness import BotHarness, FakeChannel

CUSTOMERS = 5


async def _nothing(count: int) -> None:
    return None


@dataclass
class HookedChannel(FakeChannel):
    """Each send, once done, awaits `during` with the number of sends so far."""

    during: Callable[[int], Awaitable[None]] = _nothing

    async def send(self, message: OutboundMessage) -> SendReceipt:
        receipt = await super().send(message)
        await self.during(len(self.sent))
        return receipt


@dataclass(frozen=True, slots=True)
class RowState:
    status: str
    lease_token: str | None
    attempts: int


async def states(database: Database) -> list[RowState]:
    async def work(uow: UnitOfWork) -> list[RowState]:
        query = select(outbox.c.status, outbox.c.lease_token, outbox.c.attempts)
        rows = await uow.connection.execute(query.order_by(outbox.c.id))
        return [RowState(*row) for row in rows]

    return await database.read(work)


async def _thanked_by_customers(bot: BotHarness) -> None:
    for number in range(CUSTOMERS):  # one reply each, each in a conversation of its own
        await bot.dispatcher.accept(bot.customer(f"customer-{number}").message("thanks"))


def _relay(bot: BotHarness, channel: FakeChannel) -> Relay:
    return Relay(bot.database, {"console": channel}, clock=bot.clock)  # the default policy


async def test_replies_leased_together_are_each_marked_sent_before_the_next_send(
    bot: BotHarness,
) -> None:
    await _thanked_by_customers(bot)
    seen: list[list[str]] = []

    async def during(count: int) -> None:
        seen.append([row.status for row in await states(bot.database)])

    channel = HookedChannel(during=during)
    assert await _relay(bot, channel).deliver_due() == CUSTOMERS

    for count, statuses in enumerate(seen, start=1):  # the one being sent is still `sending`
        assert statuses == ["sent"] * (count - 1) + ["sending"] * (CUSTOMERS - count + 1)
    final = await states(bot.database)
    assert [row.status for row in final] == ["sent"] * CUSTOMERS
    assert len({row.lease_token for row in final}) == 1, "one lease for the five"
    assert sorted(message.address.value for message in channel.sent) == [
        f"customer-{number}" for number in range(CUSTOMERS)
    ]


async def test_a_crash_in_the_middle_repeats_at_most_the_reply_in_flight(
    bot: BotHarness,
) -> None:
    await _thanked_by_customers(bot)
    in_flight, never = asyncio.Event(), asyncio.Event()

    async def hangs_at_the_third(count: int) -> None:
        if count == 3:
            in_flight.set()
            await never.wait()

    first = HookedChannel(during=hangs_at_the_third)
    sending = asyncio.create_task(_relay(bot, first).deliver_due())
    await asyncio.wait_for(in_flight.wait(), 10)
    sending.cancel()  # the process dies: nothing more is marked or given back
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    assert [row.status for row in await states(bot.database)] == ["sent"] * 2 + ["sending"] * 3

    after = FakeChannel()
    restarted = _relay(bot, after)  # the same instance started again
    await restarted.reclaim()
    assert await restarted.deliver_due() == 3

    received = [message.address.value for message in (*first.sent, *after.sent)]
    assert received.count("customer-2") == 2  # the one in flight at the crash
    for number in (0, 1, 3, 4):
        assert received.count(f"customer-{number}") == 1
    assert [row.status for row in await states(bot.database)] == ["sent"] * CUSTOMERS


async def test_a_stop_gives_back_at_once_the_leased_replies_not_yet_sent(
    bot: BotHarness,
) -> None:
    await _thanked_by_customers(bot)
    channel = HookedChannel()
    relay = _relay(bot, channel)

    async def stop_at_the_second(count: int) -> None:
        if count == 2:
            relay.stop()

    channel.during = stop_at_the_second
    assert await relay.deliver_due(stop_early=True) == 2

    rows = await states(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1)] * 2 + [("pending", 0)] * 3
    other = FakeChannel()  # another instance: no lease to wait out
    assert await _relay(bot, other).deliver_due() == 3
    assert len(channel.sent) + len(other.sent) == CUSTOMERS
