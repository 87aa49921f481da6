"""`touchpoint run` killed while a hand-off waits for a claim, then started again.

The claim deadline is a row in the database, not a task in the process: after a SIGKILL and a
restart it still fires, exactly once, and the hand-off moves on to the next rep, then to the
managers. Reps are registered and the hand-off reassigned with the `touchpoint` CLI, as a
manager would; reps and the customer talk to the bot through the fake Bot API.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.tables import outbox
from storage.uow import Database
from tests.bot_process import PROJECT, BotProcess, bot_environment
from tests.fakes.telegram import FakeTelegram, SentMessage

# What a kill leaves behind is the engine's: these run on both.
pytestmark = [pytest.mark.slow, pytest.mark.engines("sqlite", "postgres")]

ANN, OLGA, BORIS, MIA = 1001, 4242, 4343, 4444
CLAIM_SECONDS = 3
CARD = "New conversation #1 for you"


def environment(fake: FakeTelegram, database_url: str) -> dict[str, str]:
    return bot_environment(
        database_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_MAX_PER_CHAT="0",
        TELEGRAM_MAX_PER_SECOND="0",
        HANDOFF_CLAIM_SECONDS=str(CLAIM_SECONDS),
    )


async def touchpoint(env: dict[str, str], *args: str) -> str:
    """The CLI as a manager runs it, next to the running bot, on the same database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=PROJECT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, f"touchpoint {' '.join(args)}: {err.decode()}"
    return out.decode()


async def add_rep(env: dict[str, str], name: str, telegram: int, role: str = "rep") -> int:
    said = await touchpoint(
        env, "reps", "add", name, "--telegram", str(telegram), "--lang", "en", "--role", role
    )
    found = re.fullmatch(r"rep (\d+) added\n", said)
    assert found, said
    return int(found[1])


def cards_to(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent if m.chat_id == chat_id and m.text.startswith(CARD)]


async def all_sent(database_url: str) -> bool:
    database = Database.from_url(database_url)
    try:
        async with database.transaction() as uow:
            statuses = await uow.connection.execute(select(outbox.c.status))
            return all(status == "sent" for (status,) in statuses)
    finally:
        await database.dispose()


async def test_a_claim_deadline_survives_a_kill_and_fires_once_then_a_manager_reassigns(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    env = environment(fake, database_url)
    await touchpoint(env, "db", "upgrade")
    ids = {
        OLGA: await add_rep(env, "Olga", OLGA),
        BORIS: await add_rep(env, "Boris", BORIS),
    }
    await add_rep(env, "Mia", MIA, role="manager")  # off duty: she hears of escalations only

    first = BotProcess(env, tmp_path / "killed.log")
    await first.start()
    try:
        for rep in (OLGA, BORIS):
            fake.user_message(rep, "/online", first_name="Rep")
        await first.eventually(lambda: len(fake.sent) == 2, what="both reps told they are online")
        fake.user_message(ANN, "/human", first_name="Ann")
        await first.eventually(
            lambda: cards_to(fake, OLGA) or cards_to(fake, BORIS), what="the first card"
        )
        # The card's row is marked sent right after the Bot API answered.
        await first.eventually(lambda: all_sent(database_url), what="every outbox row sent")
    finally:
        await first.kill()
    offered_first = OLGA if cards_to(fake, OLGA) else BORIS
    offered_next = BORIS if offered_first == OLGA else OLGA
    await asyncio.sleep(CLAIM_SECONDS + 1)  # the deadline passes while no bot runs

    async with BotProcess(env, tmp_path / "restarted.log") as bot:
        await bot.eventually(lambda: cards_to(fake, offered_next), what="the card to the next rep")
        await bot.eventually(lambda: cards_to(fake, MIA), what="the card to the manager")
        # Long enough for any timer left to fire again: the scheduler polls every 5 s.
        await asyncio.sleep(CLAIM_SECONDS + 6)
        assert [len(cards_to(fake, chat)) for chat in (offered_first, offered_next, MIA)] == [
            1,
            1,
            1,
        ]
        assert fake.texts_to(ANN) == [
            "I'm passing your conversation to a person from our team. They will answer right "
            "here; anything you write meanwhile is kept for them. /cancel brings you back to me."
        ]

        said = await touchpoint(env, "handoffs", "assign", "1", "--rep", str(ids[offered_first]))
        assert said.startswith("hand-off 1 assigned to ")
        await bot.eventually(lambda: len(cards_to(fake, offered_first)) == 2, what="the new card")
        await bot.eventually(lambda: len(fake.texts_to(ANN)) == 2, what="the customer told")
        assert fake.texts_to(ANN)[1].endswith("from our team has joined and will answer you here.")
        name = "Olga" if offered_first == OLGA else "Boris"
        taken = f"Conversation #1 was taken by {name}."
        await bot.eventually(  # those who were offered it learn who has it now
            lambda: all(taken in fake.texts_to(chat) for chat in (offered_next, MIA)),
            what="the others told",
        )
        assert await bot.stop() == 0

    shown = json.loads(await touchpoint(env, "handoffs", "show", "1", "--json"))
    assert (shown["status"], shown["rep_id"]) == ("claimed", ids[offered_first])
    steps = [
        (t["kind"], t["details"].get("rep_id"), t["actor"])
        for t in shown["timeline"]
        if t["kind"] in ("rep_notified", "claim_expired", "escalated", "reassigned")
    ]
    assert steps == [
        ("rep_notified", ids[offered_first], "system"),
        ("claim_expired", ids[offered_first], "system"),
        ("rep_notified", ids[offered_next], "system"),
        ("claim_expired", ids[offered_next], "system"),
        ("escalated", None, "system"),
        ("reassigned", ids[offered_first], "operator"),  # the manager, from the CLI
    ]
