"""Two `touchpoint run` instances polling one bot on one PostgreSQL database: one polls, the
other stands by, and takes over when the first is killed (or stopped) — losing nothing.

The fake Bot API answers the older of two overlapping getUpdates with 409 Conflict, as Telegram
does: not one 409 to a poller still listening means the two instances never polled at once.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.bot_process import BotProcess, bot_environment, held_leases
from tests.e2e.test_telegram_crash import Stored, stored
from tests.fakes.telegram import FakeTelegram
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

TAKEOVER_SECONDS = 3.0
POLL_SECONDS = 1.0
# The bound of a takeover, generous for a loaded machine: the lease runs out, the standby's
# next look, its first poll. Nothing else here is timed.
WITHIN_SECONDS = TAKEOVER_SECONDS + POLL_SECONDS + 10.0
WAIT_SECONDS = 120.0
REPLIES_TO_HELLO = 2  # the greeting and the menu
FIRST_CHAT = 800_001
CHATS = 10


class Instance:
    def __init__(self, name: str, fake: FakeTelegram, database_url: str, log: Path) -> None:
        self.name = name
        self.port = free_port()
        env = bot_environment(
            database_url,
            INSTANCE_NAME=name,
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_URL=fake.api_url,
            TELEGRAM_POLL_TIMEOUT=str(int(POLL_SECONDS)),
            TELEGRAM_MAX_PER_CHAT="0",
            TELEGRAM_MAX_PER_SECOND="0",
            LEADER_TAKEOVER_SECONDS=str(TAKEOVER_SECONDS),
            RELAY_LEASE_SECONDS="2",  # a reply the killed instance was sending goes again soon
            METRICS_LISTEN=f"127.0.0.1:{self.port}",
            WEB_LISTEN="off",
        )
        self.process = BotProcess(env, log)

    async def leases(self) -> dict[str, bool]:
        return await held_leases(self.port)


def polling(leases: dict[str, bool]) -> dict[str, bool]:
    """The poller's lease of those an instance holds (it also stands for the sender's)."""
    return {name: held for name, held in leases.items() if name.startswith("telegram-poller/")}


def polls(fake: FakeTelegram) -> list[float]:
    return [call.at for call in fake.calls if call.method == "getUpdates"]


def conflicts(fake: FakeTelegram) -> int:
    """409s answered to a poller still listening. A stopped instance's poll, cut off by the
    stop, waits on in the Bot API until the next poller's poll ends it with a 409 nobody reads:
    Telegram does the same, and it is no conflict."""
    return sum(
        1
        for call in fake.calls
        if call.method == "getUpdates" and call.status == 409 and not call.abandoned
    )


def say_hello(fake: FakeTelegram, chats: range) -> list[str]:
    keys = []
    for chat_id in chats:
        update = fake.user_message(chat_id, "hello", first_name=f"Customer {chat_id}")
        keys.append(f"{chat_id}:{update['message']['message_id']}")
    return keys


def answered(fake: FakeTelegram, chats: range) -> bool:
    seen = Counter(sent.chat_id for sent in fake.sent)
    return all(seen[chat_id] >= REPLIES_TO_HELLO for chat_id in chats)


async def the_leader(one: Instance, other: Instance) -> tuple[Instance, Instance]:
    """(leader, standby), once both are serving and exactly one holds the poller's lease."""

    async def decided() -> tuple[Instance, Instance] | None:
        first, second = polling(await one.leases()), polling(await other.leases())
        if not first or not second:
            return None
        if any(first.values()) and not any(second.values()):
            return one, other
        if any(second.values()) and not any(first.values()):
            return other, one
        return None

    def logs() -> str:
        return one.process.log_tail() + "\n" + other.process.log_tail()

    found = await eventually(decided, what="one leader, one standby", timeout=60, context=logs)
    assert found is not None
    return found


def assert_stored_once_and_answered(final: Stored, keys: list[str]) -> None:
    assert sorted(final.inbound) == sorted(keys), "every message stored, and once"
    assert final.parked == 0
    assert len(final.replies) == len(keys) * REPLIES_TO_HELLO
    assert [reply for reply in final.replies if reply.status != "sent"] == []


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
async def test_a_standby_takes_over_polling_from_a_stopped_leader_and_loses_nothing(
    fake: FakeTelegram, database_url: str, tmp_path: Path, stop: str
) -> None:
    alpha = Instance("alpha", fake, database_url, tmp_path / "alpha.log")
    beta = Instance("beta", fake, database_url, tmp_path / "beta.log")
    await alpha.process.start()
    await beta.process.start()
    try:
        leader, standby = await the_leader(alpha, beta)
        before = range(FIRST_CHAT, FIRST_CHAT + CHATS)
        keys = say_hello(fake, before)
        await leader.process.eventually(
            lambda: answered(fake, before), what="the first chats answered", timeout=WAIT_SECONDS
        )

        stopped_at = time.monotonic()
        if stop == "SIGKILL":
            await leader.process.kill()
        else:
            assert await leader.process.stop() == 0, leader.process.log_tail()
        after = range(FIRST_CHAT + CHATS, FIRST_CHAT + 2 * CHATS)
        keys += say_hello(fake, after)  # written while nobody polls

        first_poll = await eventually(
            lambda: next((at for at in polls(fake) if at > stopped_at), None),
            what="the standby's first poll",
            timeout=WAIT_SECONDS,
            context=standby.process.log_tail,
        )
        assert first_poll is not None
        took = first_poll - stopped_at
        await standby.process.eventually(
            lambda: answered(fake, after), what="the later chats answered", timeout=WAIT_SECONDS
        )
        held = await standby.leases()
    finally:
        await alpha.process.stop()
        await beta.process.stop()

    print(
        f"\n{stop} of {leader.name}: {standby.name} polled {took:.2f} s later "
        f"(LEADER_TAKEOVER_SECONDS={TAKEOVER_SECONDS:g}, polls of {POLL_SECONDS:g} s)"
    )
    assert took < WITHIN_SECONDS
    bot_id = fake.token.split(":")[0]
    assert held == {
        f"telegram-poller/{bot_id}": True,
        f"telegram-sender/{bot_id}": True,
        f"instance/{standby.name}": True,  # its presence under its name (bot/bootstrap.py)
    }
    assert conflicts(fake) == 0, "two instances polled at once"
    assert_stored_once_and_answered(await stored(database_url), keys)


async def test_a_second_process_under_a_running_ones_name_sends_nothing_until_it_is_gone(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Two processes started with one INSTANCE_NAME: the second neither takes back the first's
    replies in flight as its own nor sends while the first runs, and says why in its log; once
    the first is killed, it takes over."""
    first = Instance("twin", fake, database_url, tmp_path / "first.log")
    second = Instance("twin", fake, database_url, tmp_path / "second.log")
    await first.process.start()
    try:
        await first.process.eventually(
            lambda: _presence(first), what="the first's presence", timeout=WAIT_SECONDS
        )
        await second.process.start()
        await second.process.eventually(
            lambda: "another running instance is named 'twin'" in second.process.log(),
            what="the second naming the clash",
            timeout=WAIT_SECONDS,
        )
        assert not (await second.leases()).get("instance/twin")
        before = range(FIRST_CHAT, FIRST_CHAT + CHATS)
        keys = say_hello(fake, before)
        await first.process.eventually(
            lambda: answered(fake, before), what="the first chats answered", timeout=WAIT_SECONDS
        )

        await first.process.kill()
        after = range(FIRST_CHAT + CHATS, FIRST_CHAT + 2 * CHATS)
        keys += say_hello(fake, after)
        await second.process.eventually(
            lambda: answered(fake, after), what="the later chats answered", timeout=WAIT_SECONDS
        )
        assert (await second.leases()).get("instance/twin") is True
    finally:
        await first.process.stop()
        await second.process.stop()
    assert_stored_once_and_answered(await stored(database_url), keys)


async def _presence(instance: Instance) -> bool:
    return (await instance.leases()).get("instance/twin") is True
