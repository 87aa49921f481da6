"""`touchpoint run` stopped in the middle of a Telegram backlog, then started again.

The fake Bot API runs in the test's process; the bot is a real subprocess on a real database.
A SIGKILL may lose no inbound message and store none twice; the only reply that may go out
twice is the one in flight at the kill (sent, not yet marked sent). A SIGTERM loses and repeats
nothing at all.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.tables import dead_letters, messages, outbox
from storage.uow import Database
from tests.bot_process import BotProcess, bot_environment
from tests.fakes.telegram import FakeTelegram, SentMessage

# What a kill leaves behind is the engine's: these run on both.
pytestmark = [pytest.mark.slow, pytest.mark.engines("sqlite", "postgres")]

CHATS = 50
FIRST_CHAT = 700_001
# Every chat says the same four things; the bot answers each with this many replies.
SCRIPT = (("hello", 2), ("what can you do?", 1), ("thanks", 1), ("bye", 1))
REPLIES_PER_CHAT = sum(count for _, count in SCRIPT)
REPLIES = CHATS * REPLIES_PER_CHAT
# A reply leased by the killed process is delivered again once its lease expires: a short lease
# keeps the test from waiting the production minute.
LEASE_SECONDS = "2"
WAIT_SECONDS = 120.0


def environment(fake: FakeTelegram, database_url: str) -> dict[str, str]:
    return bot_environment(
        database_url,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_MAX_PER_CHAT="0",
        TELEGRAM_MAX_PER_SECOND="0",
        RELAY_LEASE_SECONDS=LEASE_SECONDS,
    )


def queue_backlog(fake: FakeTelegram) -> dict[int, list[str]]:
    """200 updates from 50 chats, interleaved as they would arrive; each chat's message keys."""
    keys: dict[int, list[str]] = {FIRST_CHAT + n: [] for n in range(CHATS)}
    for text, _ in SCRIPT:
        for chat_id, chat_keys in keys.items():
            update = fake.user_message(chat_id, text, first_name=f"Customer {chat_id}")
            chat_keys.append(f"{chat_id}:{update['message']['message_id']}")
    return keys


# --- what the database holds -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    address: str
    inbound_key: str | None
    text: str
    status: str
    external_id: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    inbound: list[str]
    replies: list[Reply]
    parked: int

    def replies_to(self, chat_id: int) -> list[Reply]:
        return [reply for reply in self.replies if reply.address == str(chat_id)]

    def with_status(self, status: str) -> list[Reply]:
        return [reply for reply in self.replies if reply.status == status]


async def stored(database_url: str) -> Stored:
    database = Database.from_url(database_url)
    replies = (
        select(
            outbox.c.id,
            outbox.c.address,
            messages.c.external_id,
            outbox.c.text,
            outbox.c.status,
            outbox.c.external_id,
        )
        .outerjoin(messages, messages.c.id == outbox.c.inbound_message_id)
        .order_by(outbox.c.id)
    )
    inbound = select(messages.c.external_id).where(messages.c.direction == "in")
    try:
        async with database.transaction() as uow:
            run = uow.connection.execute
            return Stored(
                inbound=[row[0] for row in await run(inbound.order_by(messages.c.id))],
                replies=[Reply(*row) for row in await run(replies)],
                parked=len((await run(select(dead_letters.c.id))).all()),
            )
    finally:
        await database.dispose()


# --- what the customers saw ------------------------------------------------------------------


def key_of(sent: SentMessage) -> str:
    return f"{sent.chat_id}:{sent.message_id}"


def without_repeats(texts: list[str]) -> list[str]:
    return [text for n, text in enumerate(texts) if n == 0 or texts[n - 1] != text]


def every_chat_answered(fake: FakeTelegram) -> Callable[[], bool]:
    """All replies arrived (a reply sent twice in a row counts once: the final check is exact)."""

    def answered() -> bool:
        seen = Counter(m.chat_id for m in fake.sent)
        if len(seen) < CHATS or min(seen.values()) < REPLIES_PER_CHAT:
            return False
        texts: dict[int, list[str]] = {}
        for sent in fake.sent:
            texts.setdefault(sent.chat_id, []).append(sent.text)
        return all(len(without_repeats(chat)) >= REPLIES_PER_CHAT for chat in texts.values())

    return answered


async def run_to_the_end(fake: FakeTelegram, env: dict[str, str], log: Path) -> None:
    """Start the bot again and stop it (gracefully) once every chat has all its replies."""
    started = time.monotonic()  # the fake stamps calls with this clock

    def polls() -> bool:  # serving, so SIGTERM is handled (not the default: exit -15)
        return any(c.method == "getUpdates" and c.at > started for c in fake.calls)

    async with BotProcess(env, log) as bot:
        await bot.eventually(
            polls, what="a getUpdates poll", timeout=WAIT_SECONDS, context=fake.recent_calls
        )
        await bot.eventually(
            every_chat_answered(fake),
            what="every reply",
            timeout=WAIT_SECONDS,
            context=fake.recent_calls,
        )
        assert await bot.stop() == 0, bot.log()[-4000:]


# --- the checks both variants share ----------------------------------------------------------


def assert_every_message_stored_once(final: Stored, keys: dict[int, list[str]]) -> None:
    expected = [key for chat_keys in keys.values() for key in chat_keys]
    assert sorted(final.inbound) == sorted(expected)
    assert final.parked == 0


def assert_every_chat_answered_in_order(final: Stored, keys: dict[int, list[str]]) -> None:
    assert len(final.replies) == REPLIES
    assert [reply for reply in final.replies if reply.status != "sent"] == []
    for chat_id, chat_keys in keys.items():
        replies = final.replies_to(chat_id)
        # In the order of the messages, with each message's replies together.
        answered = [reply.inbound_key for reply in replies]
        assert answered == [
            key for key, (_, n) in zip(chat_keys, SCRIPT, strict=True) for _ in range(n)
        ]


def assert_what_was_delivered(fake: FakeTelegram, final: Stored) -> list[SentMessage]:
    """Each reply's recorded send is in the fake, in order per chat; returns the extra sends."""
    delivered = {reply.external_id for reply in final.replies}
    by_key = {key_of(sent): sent for sent in fake.sent}
    assert [by_key[str(reply.external_id)].text for reply in final.replies] == [
        reply.text for reply in final.replies
    ]
    transcripts = set()
    for chat_id in {int(reply.address) for reply in final.replies}:
        seen = [m.text for m in fake.sent if m.chat_id == chat_id and key_of(m) in delivered]
        assert seen == [reply.text for reply in final.replies_to(chat_id)]
        transcripts.add(tuple(seen))
    assert len(transcripts) == 1, "every chat said the same: every chat heard the same"
    return [sent for sent in fake.sent if key_of(sent) not in delivered]


# --- the tests -------------------------------------------------------------------------------


# Killed at the first reply, most of the backlog is not yet stored (and not acknowledged to
# Telegram); at a third of the replies, every message is stored and replies are going out.
@pytest.mark.parametrize("kill_after", [1, REPLIES // 3], ids=["first-reply", "third-of-replies"])
async def test_a_killed_bot_loses_nothing_and_repeats_at_most_the_reply_in_flight(
    fake: FakeTelegram, database_url: str, tmp_path: Path, kill_after: int
) -> None:
    keys = queue_backlog(fake)
    env = environment(fake, database_url)

    first = BotProcess(env, tmp_path / "killed.log")
    await first.start()
    try:
        await first.eventually(
            lambda: len(fake.sent) >= kill_after,
            what=f"{kill_after} replies",
            timeout=WAIT_SECONDS,
            context=fake.recent_calls,
        )
    finally:
        await first.kill()
    sent_at_kill = len(fake.sent)
    at_kill = await stored(database_url)
    assert 0 < sent_at_kill < REPLIES, "the kill must come in the middle of the replies"
    # Leased replies not yet sent are `sending` too; in flight is what went out unmarked.
    delivered = Counter((sent.chat_id, sent.text) for sent in fake.sent)
    marked = Counter((int(reply.address), reply.text) for reply in at_kill.with_status("sent"))
    in_flight = set(delivered - marked)
    assert len(in_flight) <= 1, "one reply at a time is in flight"

    await run_to_the_end(fake, env, tmp_path / "restarted.log")
    final = await stored(database_url)

    assert_every_message_stored_once(final, keys)
    assert_every_chat_answered_in_order(final, keys)
    repeated = assert_what_was_delivered(fake, final)
    print(
        f"\n[{database_url.split('+')[0]}] SIGKILL after {sent_at_kill}/{REPLIES} replies, "
        f"{len(at_kill.inbound)}/{CHATS * len(SCRIPT)} messages stored, "
        f"{len(at_kill.with_status('sent'))} replies marked sent, "
        f"{len(in_flight)} in flight; replies sent twice: {len(repeated)}"
    )
    assert len(repeated) <= 1
    assert {(sent.chat_id, sent.text) for sent in repeated} <= in_flight


# Regression: SIGTERM shut the Telegram client down before the relay drained, so the send in
# flight was cut (and repeated after the restart) and every send of the drain failed.
async def test_a_terminated_bot_delivers_what_is_due_and_loses_or_repeats_nothing(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    keys = queue_backlog(fake)
    env = environment(fake, database_url)

    async with BotProcess(env, tmp_path / "terminated.log") as first:
        await first.eventually(
            lambda: len(fake.sent) >= REPLIES // 3,
            what="a third of the replies",
            timeout=WAIT_SECONDS,
            context=fake.recent_calls,
        )
        asked = time.monotonic()
        code = await first.stop(timeout=10.0)  # SIGTERM; a SIGKILL after 10 s makes it -9
        stopped_after = time.monotonic() - asked
    at_stop = await stored(database_url)
    print(
        f"\n[{database_url.split('+')[0]}] SIGTERM: exit {code} after {stopped_after:.2f} s; "
        f"{len(at_stop.inbound)}/{CHATS * len(SCRIPT)} messages stored, "
        f"{len(at_stop.with_status('sent'))}/{len(at_stop.replies)} of their replies sent"
    )
    assert code == 0, first.log()[-4000:]
    # "The relay settles the reply in hand and delivers what is due" (App.serve).
    assert [reply for reply in at_stop.replies if reply.status != "sent"] == []

    await run_to_the_end(fake, env, tmp_path / "restarted.log")
    final = await stored(database_url)

    assert_every_message_stored_once(final, keys)
    assert_every_chat_answered_in_order(final, keys)
    assert assert_what_was_delivered(fake, final) == []
