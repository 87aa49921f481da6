"""`touchpoint run` killed while a hand-off waits for a rep, then started again: the queue
deadline (HANDOFF_QUEUE_MINUTES) is a row, so it still ends the wait after the restart, once;
the customer is offered to leave a message, and the rep who had the card is told."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.bot_process import BotProcess, bot_environment
from tests.conversations.test_handoff_waiting import NO_LONGER_WAITING, REQUESTED, TIMED_OUT
from tests.conversations.test_nobody_available import PASSED_ON
from tests.e2e.test_handoff_restart import add_rep, all_sent, cards_to, touchpoint
from tests.fakes.telegram import FakeTelegram

pytestmark = [pytest.mark.slow, pytest.mark.engines("sqlite", "postgres")]

ANN, OLGA = 1001, 4242
QUEUE_SECONDS = 6


async def test_a_queue_deadline_survives_a_kill_and_ends_the_wait_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    env = bot_environment(
        database_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_MAX_PER_CHAT="0",
        TELEGRAM_MAX_PER_SECOND="0",
        HANDOFF_CLAIM_SECONDS="600",  # Olga keeps the card and never claims it
        HANDOFF_QUEUE_MINUTES=str(QUEUE_SECONDS / 60),
    )
    await touchpoint(env, "db", "upgrade")
    await add_rep(env, "Olga", OLGA)

    first = BotProcess(env, tmp_path / "killed.log")
    await first.start()
    try:
        fake.user_message(OLGA, "/online", first_name="Olga")
        await first.eventually(lambda: fake.texts_to(OLGA), what="Olga told she is online")
        fake.user_message(ANN, "/human", first_name="Ann")
        await first.eventually(lambda: cards_to(fake, OLGA), what="the card to Olga")
        await first.eventually(lambda: all_sent(database_url), what="every outbox row sent")
    finally:
        await first.kill()
    assert fake.texts_to(ANN) == [REQUESTED]
    await asyncio.sleep(QUEUE_SECONDS + 1)  # the deadline passes while no bot runs

    async with BotProcess(env, tmp_path / "restarted.log") as bot:
        await bot.eventually(lambda: len(fake.texts_to(ANN)) == 2, what="the customer told")
        assert fake.texts_to(ANN)[1] == TIMED_OUT
        await bot.eventually(
            lambda: NO_LONGER_WAITING in fake.texts_to(OLGA), what="Olga told it no longer waits"
        )
        fake.user_message(ANN, "Please call me back about the desks", first_name="Ann")
        await bot.eventually(lambda: len(fake.texts_to(ANN)) == 3, what="the message passed on")
        assert fake.texts_to(ANN)[2] == PASSED_ON.format(number=1001)
        await asyncio.sleep(6)  # the scheduler polls every 5 s: nothing fires twice
        assert fake.texts_to(ANN)[1:].count(TIMED_OUT) == 1
        assert fake.texts_to(OLGA).count(NO_LONGER_WAITING) == 1
        assert await bot.stop() == 0

    shown = await touchpoint(env, "handoffs", "list", "--json")
    assert '"status": "timed_out"' in shown
