"""`touchpoint run` killed while a lead's card waits for Accept, then started again.

The acceptance deadline is a row in the database: after a SIGKILL and a restart the card moves
on to the next rep, then to the managers, exactly once each.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.bot_process import BotProcess
from tests.e2e.test_handoff_restart import add_rep, all_sent, environment, touchpoint
from tests.fakes.telegram import FakeTelegram, SentMessage

# What a kill leaves behind is the engine's: these run on both.
pytestmark = [pytest.mark.slow, pytest.mark.engines("sqlite", "postgres")]

ANN, OLGA, BORIS, MIA = 1001, 4242, 4343, 4444
ACCEPT_SECONDS = 3
CARD = "New lead #1 for you"
ESCALATED = "Lead #1: nobody accepted it in time"
OPENER = (
    "I'm Ann Lee from Northwind, ann@northwind.example, we need 40 standing desks, "
    "budget about 20000 EUR, by May"
)


def starting(fake: FakeTelegram, chat_id: int, text: str) -> list[SentMessage]:
    return [m for m in fake.sent if m.chat_id == chat_id and m.text.startswith(text)]


async def test_a_lead_acceptance_deadline_survives_a_kill_and_escalates_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    env = environment(fake, database_url)
    env |= {"LEAD_ACCEPT_MINUTES": str(ACCEPT_SECONDS / 60), "HOT_LEAD_SCORE": "101"}
    await touchpoint(env, "db", "upgrade")
    ids = {OLGA: await add_rep(env, "Olga", OLGA), BORIS: await add_rep(env, "Boris", BORIS)}
    await add_rep(env, "Mia", MIA, role="manager")  # off duty: she hears of escalations only

    first = BotProcess(env, tmp_path / "killed.log")
    await first.start()
    try:
        for rep in (OLGA, BORIS):
            fake.user_message(rep, "/online", first_name="Rep")
        await first.eventually(lambda: len(fake.sent) == 2, what="both reps told they are online")
        fake.user_message(ANN, OPENER, first_name="Ann")
        await first.eventually(lambda: fake.texts_to(ANN), what="the summary")
        [summary] = [m for m in fake.sent if m.chat_id == ANN]
        fake.user_callback(ANN, "lead:confirm", message_id=summary.message_id)
        await first.eventually(
            lambda: starting(fake, OLGA, CARD) or starting(fake, BORIS, CARD), what="the card"
        )
        await first.eventually(lambda: all_sent(database_url), what="every outbox row sent")
    finally:
        await first.kill()
    offered_first = OLGA if starting(fake, OLGA, CARD) else BORIS
    offered_next = BORIS if offered_first == OLGA else OLGA
    await asyncio.sleep(ACCEPT_SECONDS + 1)  # the deadline passes while no bot runs

    async with BotProcess(env, tmp_path / "restarted.log") as bot:
        await bot.eventually(lambda: starting(fake, offered_next, CARD), what="the next card")
        await bot.eventually(lambda: starting(fake, MIA, ESCALATED), what="the managers' card")
        # Long enough for any timer left to fire again: the scheduler polls every 5 s.
        await asyncio.sleep(ACCEPT_SECONDS + 6)
        counts = [
            len(starting(fake, offered_first, CARD)),
            len(starting(fake, offered_next, CARD)),
            len(starting(fake, MIA, ESCALATED)),
        ]
        assert counts == [1, 1, 1]
        assert await bot.stop() == 0

    shown = json.loads(await touchpoint(env, "touchpoints", "list", "--json"))
    steps = [
        (t["kind"], t["details"].get("rep_id"))
        for t in shown
        if t["kind"] in ("lead_offered", "lead_accept_expired", "lead_escalated")
    ]
    assert steps == [
        ("lead_offered", ids[offered_first]),
        ("lead_accept_expired", ids[offered_first]),
        ("lead_offered", ids[offered_next]),
        ("lead_accept_expired", ids[offered_next]),
        ("lead_escalated", None),
    ]
