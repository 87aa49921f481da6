"""Durable timers: a follow-up fires once, when due, across restarts and instances."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from bot.dispatch import MAX_TIMER_ATTEMPTS, Dispatcher
from bot.model import PermanentSendError
from bot.scheduler import Scheduler
from bot.turn import FlowConfig
from storage.uow import Database
from tests.harness import BotHarness, FakeClock
from tests.integration.helpers import (
    TurnHeldAtTheLock,
    another_instance,
    kinds,
    outbox_rows,
    services_without_text,
    timers,
)

BROKEN_SCREEN = "My order 12345 arrived broken, the screen is cracked and it does not turn on"
OPENED = (
    "Your request #1001 is open. Our team will look into it and I'll follow up within 24 "
    'hours. Ask "status #1001" any time.'
)
FOLLOW_UP = (
    "Following up on your request #1001: it is open, and our team is on it. Reply here if "
    "there is anything to add."
)
FOLLOWUP_AFTER = FlowConfig().followup_after


async def test_ticket_follow_up_is_sent_once_when_it_is_due(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    assert await alice.say(BROKEN_SCREEN) == [OPENED]
    assert [(t.kind, t.status) for t in await timers(bot.database)] == [
        ("ticket_followup", "pending")
    ]

    bot.clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() - 60)
    assert await bot.scheduler.fire_due() == 0
    bot.clock.advance(seconds=61)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()

    assert alice.channel.texts_to("alice") == [OPENED, FOLLOW_UP]
    assert (await bot.kinds()).count("followup_due") == 1
    assert [t.status for t in await timers(bot.database)] == ["fired"]

    assert await bot.scheduler.fire_due() == 0
    bot.restart()
    bot.clock.advance(hours=1)
    assert await bot.scheduler.fire_due() == 0
    await bot.deliver()
    assert alice.channel.texts_to("alice") == [OPENED, FOLLOW_UP]
    assert (await bot.kinds()).count("followup_due") == 1


async def test_two_schedulers_on_one_database_fire_a_timer_once(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say(BROKEN_SCREEN)
    bot.clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() + 1)

    async with another_instance(bot.database) as database:
        dispatcher = Dispatcher(database, bot.services, clock=bot.clock)
        other = Scheduler(database, dispatcher, clock=bot.clock)
        fired = await asyncio.gather(bot.scheduler.fire_due(), other.fire_due())
    await bot.deliver()

    assert sum(fired) == 1
    assert alice.channel.texts_to("alice") == [OPENED, FOLLOW_UP]
    assert (await bot.kinds()).count("followup_due") == 1


async def test_follow_up_of_a_closed_ticket_is_skipped(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    await alice.say(BROKEN_SCREEN)
    [ticket] = await bot.tickets()
    async with bot.database.transaction() as uow:
        await uow.tickets.set_status(ticket.id, "resolved", bot.clock())
        await uow.commit()

    bot.clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() + 1)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()

    assert alice.channel.texts_to("alice") == [OPENED]
    async with bot.database.transaction() as uow:
        [skipped] = await uow.touchpoints.search(kind="followup_skipped")
    assert skipped.details == {"ticket": 1001, "why": "ticket_closed"}
    assert "followup_due" not in await bot.kinds()


async def test_follow_up_to_an_unreachable_customer_is_skipped(bot: BotHarness) -> None:
    lea = bot.customer("5001", channel="telegram")
    lea.channel.failures.append(
        PermanentSendError("Forbidden: bot was blocked by the user", unreachable=True)
    )
    assert await lea.say(BROKEN_SCREEN) == []  # blocked before the acknowledgement arrived

    bot.clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() + 1)
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()

    assert lea.channel.sent == []
    assert [row.status for row in await outbox_rows(bot.database)] == ["failed"]
    async with bot.database.transaction() as uow:
        [skipped] = await uow.touchpoints.search(kind="followup_skipped")
    assert skipped.details == {"ticket": 1001, "why": "unreachable"}


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_connection_lost_while_firing_is_not_counted_as_a_failed_attempt(
    bot: BotHarness,
) -> None:
    # Only PostgreSQL: only a database server can drop the connection of an open transaction.
    alice = bot.customer("alice")
    await alice.say(BROKEN_SCREEN)
    bot.clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() + 1)

    async with (
        another_instance(bot.database) as other,
        TurnHeldAtTheLock(other, "console", "alice") as held,
    ):
        firing = asyncio.create_task(bot.scheduler.fire_due())
        await held.lose_connection()
        with pytest.raises(DBAPIError):  # the scheduler's loop logs it and polls again
            await firing

    assert [(t.status, t.attempts) for t in await timers(bot.database)] == [("pending", 0)]
    assert await bot.scheduler.fire_due() == 1
    await bot.deliver()
    assert alice.channel.texts_to("alice") == [OPENED, FOLLOW_UP]


async def test_failing_timer_is_retried_later_then_given_up(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    # The operator deleted the follow-up text: the timer's handler raises every time.
    bot = BotHarness(database, clock, services_without_text("service.followup", tmp_path))
    alice = bot.customer("alice")
    assert await alice.say(BROKEN_SCREEN) == [OPENED]
    clock.advance(seconds=FOLLOWUP_AFTER.total_seconds() + 1)

    assert await bot.scheduler.fire_due() == 0
    assert await bot.scheduler.fire_due() == 0  # not again at once: it waits for its retry
    assert [(t.status, t.attempts) for t in await timers(database)] == [("pending", 1)]
    for attempt in range(2, MAX_TIMER_ATTEMPTS + 1):
        clock.advance(hours=1, seconds=1)
        assert await bot.scheduler.fire_due() == 0
        [timer] = await timers(database)
        assert timer.attempts == attempt

    assert [t.status for t in await timers(database)] == ["failed"]
    async with database.transaction() as uow:
        [failed] = await uow.touchpoints.search(kind="timer_failed")
    assert failed.details["timer"] == 1
    assert "service.followup" in str(failed.details["error"])
    clock.advance(days=1)
    assert await bot.scheduler.fire_due() == 0
    await bot.deliver()
    assert alice.channel.texts_to("alice") == [OPENED]
    assert "followup_due" not in await kinds(database)
