"""Two `touchpoint run` instances in webhook mode on one PostgreSQL database, updates pushed to
both: one of them sends for the bot (the holder of `telegram-sender/<bot id>`), so the Bot
API's limits hold across the two as they do for one process — 30 messages a second overall,
about one a second per chat after a short burst — and the pace is the same as one instance's.
When the sender is killed, the other takes over sending.

The fake Bot API stamps every message it is sent; the limits are counted over any one second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.settings import Settings
from channels.telegram.pacing import CHAT_BURST
from tests.bot_process import BotProcess, bot_environment, held_leases
from tests.e2e.test_telegram_crash import Stored, stored
from tests.fakes.telegram import FakeTelegram
from tests.fakes.telegram_http import post_json
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

SECRET = "pacing-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TAKEOVER_SECONDS = 3.0
# The database is read only once nothing was sent for this long (longer than a takeover):
# reading it holds up this process's event loop, where the fake Bot API stamps each send, and
# a send stamped late can seem to share a second with sends it did not.
QUIET_SECONDS = TAKEOVER_SECONDS + 3.0
WITHIN_SECONDS = TAKEOVER_SECONDS + 10.0  # generous for a loaded machine
WAIT_SECONDS = 120.0
DEFAULTS = Settings(_env_file=None)
PER_SECOND = DEFAULTS.telegram_max_per_second  # the pacer's defaults: the Bot API's limits
PER_CHAT = DEFAULTS.telegram_max_per_chat
# In any one second as the fake Bot API counts them: never more than the rate overall; to one
# chat, the rate plus the chat's short burst.
MOST_OVERALL = PER_SECOND
MOST_PER_CHAT = PER_CHAT + CHAT_BURST
FIRST_CHAT = 810_001
CHATS = 300  # write at once; each says hello: two replies, 600 messages, 20 s at 30 a second
KILLED_CHATS = 60  # write before the sender is killed: 120 messages, 4 s
TALKATIVE = 4  # of them write five times: eight replies each, paced per chat after a burst
FLOOD_SECONDS = 5  # the 429's retry_after: long enough for the updates to be taken in
REPLIES_TO_HELLO = 2  # the greeting and the menu
TALKS = ("hello", "/start", "/help", "/start", "/help")


def sender_lease(fake: FakeTelegram) -> str:
    return f"telegram-sender/{fake.token.split(':')[0]}"  # the bot's id


class Instance:
    """One `touchpoint run` behind the load balancer: its webhook and its /healthz."""

    def __init__(self, name: str, fake: FakeTelegram, database_url: str, log: Path) -> None:
        self.name = name
        self.port, hook_port = free_port(), free_port()
        self.webhook = f"http://127.0.0.1:{hook_port}/telegram"
        env = bot_environment(
            database_url,
            INSTANCE_NAME=name,
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_URL=fake.api_url,
            TELEGRAM_WEBHOOK_URL=self.webhook,
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{hook_port}",
            LEADER_TAKEOVER_SECONDS=str(TAKEOVER_SECONDS),
            RELAY_LEASE_SECONDS="2",  # a reply the killed instance was sending goes again soon
            METRICS_LISTEN=f"127.0.0.1:{self.port}",
            WEB_LISTEN="off",
        )
        self.process = BotProcess(env, log)

    async def leases(self) -> dict[str, bool]:
        return await held_leases(self.port)

    async def push(self, update: dict[str, object]) -> None:
        await push_update(self.name, self.webhook, update)


async def push_update(name: str, webhook: str, update: dict[str, object]) -> None:
    """Telegram's POST of one update, through the load balancer to instance `name`."""
    body = json.dumps(update).encode()
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    status, text = await post_json(webhook, body, headers)
    assert status == 200, f"{name} answered {status}: {text}"


async def started(instances: list[Instance]) -> None:
    """Once each serves its webhook and says (in /healthz) whether it sends for the bot."""

    async def serving() -> bool:
        leases = [await instance.leases() for instance in instances]
        return all(leases) and sum(sends(held) for held in leases) == 1

    def logs() -> str:
        return "\n".join(instance.process.log_tail() for instance in instances)

    await eventually(serving, what="every instance serving, one sending", timeout=60, context=logs)


async def the_sender(instances: list[Instance]) -> Instance:
    for instance in instances:
        if sends(await instance.leases()):
            return instance
    raise AssertionError("no instance sends for the bot")


def sends(held: dict[str, bool]) -> bool:
    """Whether the instance holds the bot's sender lease (each also holds its own presence)."""
    return any(holding for name, holding in held.items() if name.startswith("telegram-sender/"))


async def push_to_all(fake: FakeTelegram, instances: list[Instance], chats: range) -> list[str]:
    """Each chat's updates, spread over the instances as a load balancer would; returns their
    keys. One chat's updates arrive one after another, as Telegram sends them."""

    async def chat(chat_id: int, at: Instance) -> list[str]:
        keys = []
        for text in TALKS if chat_id - chats.start < TALKATIVE else TALKS[:1]:
            update = fake.user_message(chat_id, text, first_name=f"Customer {chat_id}")
            await at.push(update)
            keys.append(f"{chat_id}:{update['message']['message_id']}")
        return keys

    spread = [chat(chat_id, instances[n % len(instances)]) for n, chat_id in enumerate(chats)]
    return [key for keys in await asyncio.gather(*spread) for key in keys]


def answered(fake: FakeTelegram, final: Stored, chats: range) -> bool:
    seen = Counter(message.chat_id for message in fake.sent)
    return all(seen[chat_id] >= len(final.replies_to(chat_id)) > 0 for chat_id in chats)


async def all_answered(fake: FakeTelegram, database_url: str, chats: range) -> Stored:
    async def done() -> Stored | None:
        if not fake.sent or time.monotonic() - fake.sent[-1].at < QUIET_SECONDS:
            return None
        final = await stored(database_url)
        unsent = [reply for reply in final.replies if reply.status != "sent"]
        return final if not unsent and answered(fake, final, chats) else None

    found = await eventually(done, what="every update answered", timeout=WAIT_SECONDS, interval=0.1)
    assert found is not None
    return found


def flood_control(fake: FakeTelegram) -> tuple[float, float]:
    """When the 429 was answered, and when the next message was sent."""
    [flooded] = [call.at for call in fake.calls if call.status == 429]
    return flooded, min(message.at for message in fake.sent)


def assert_within_the_limits(fake: FakeTelegram, chats: range, *, late: float = 0.0) -> None:
    """The Bot API's limits in any one second, as the fake counts the sends it received. With
    `late`, counted over a second less that: a send can reach the fake that much later than
    the pacer let it go (a process busy with other work between the two), which crowds it
    into the next second by as much."""
    overall = fake.most_sent_in_a_second(less=late)
    per_chat = max(fake.most_sent_in_a_second(chat_id, less=late) for chat_id in chats)
    print(f"most in one second: {overall} overall, {per_chat} to one chat")
    assert overall <= MOST_OVERALL
    assert per_chat <= MOST_PER_CHAT


def assert_answered_once(fake: FakeTelegram, final: Stored, keys: list[str], extra: int) -> None:
    """Every update stored once; every reply sent, and no more than `extra` twice (a send in
    flight when its sender was killed goes again, at-least-once)."""
    assert sorted(final.inbound) == sorted(keys)
    assert final.parked == 0
    seen = Counter(message.chat_id for message in fake.sent)
    stored_replies = Counter(int(reply.address) for reply in final.replies)
    assert +(stored_replies - seen) == Counter(), "every reply reached its chat"
    assert sum((seen - stored_replies).values()) <= extra


@pytest.mark.parametrize("count", [1, 2])
async def test_the_bot_api_limits_hold_over_instances_at_the_pace_of_one(
    fake: FakeTelegram, database_url: str, tmp_path: Path, count: int
) -> None:
    instances = [
        Instance(f"node-{n}", fake, database_url, tmp_path / f"node-{n}.log") for n in range(count)
    ]
    for instance in instances:
        await instance.process.start()
    # Telegram's flood control answers the first send: the bot sends nothing for a while, and
    # the replies queue meanwhile; the pace is then the sender's own, not the updates'.
    fake.add_fault("sendMessage", 429, retry_after=FLOOD_SECONDS)
    try:
        await started(instances)
        chats = range(FIRST_CHAT, FIRST_CHAT + CHATS)
        keys = await push_to_all(fake, instances, chats)
        pushed = time.monotonic()
        final = await all_answered(fake, database_url, chats)
        senders = [
            (await instance.leases()).get(sender_lease(fake), False) for instance in instances
        ]
    finally:
        for instance in instances:
            await instance.process.stop()

    # The pace while every chat has replies waiting; the talkative chats' last replies trail
    # at a chat's pace of one a second.
    busy = CHATS * REPLIES_TO_HELLO
    flooded, resumed = flood_control(fake)
    print(
        f"\n{count} instance(s), pacing on: the first {busy} of {len(fake.sent)} messages at "
        f"{fake.sent_per_second(busy):.1f}/s, all at {fake.sent_per_second():.1f}/s "
        f"(limit {PER_SECOND:g}/s); sending resumed {resumed - flooded:.2f} s after a 429 "
        f"asking for {FLOOD_SECONDS} s; updates pushed {pushed - flooded:.2f} s after it"
    )
    assert resumed - flooded >= FLOOD_SECONDS, "the 429 paused every chat, on every instance"
    assert_within_the_limits(fake, chats)
    assert_answered_once(fake, final, keys, extra=0)
    assert sorted(senders) == sorted([True] + [False] * (count - 1)), "one sender"


async def test_when_the_sender_is_killed_the_other_instance_takes_over_sending(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    alpha = Instance("alpha", fake, database_url, tmp_path / "alpha.log")
    beta = Instance("beta", fake, database_url, tmp_path / "beta.log")
    await alpha.process.start()
    await beta.process.start()
    try:
        await started([alpha, beta])
        sender = await the_sender([alpha, beta])
        other = beta if sender is alpha else alpha
        before = range(FIRST_CHAT, FIRST_CHAT + KILLED_CHATS)
        keys = await push_to_all(fake, [alpha, beta], before)
        await sender.process.eventually(
            lambda: len(fake.sent) >= 20, what="sending under way", timeout=WAIT_SECONDS
        )

        await sender.process.kill()
        killed_at = time.monotonic()
        after = range(before.stop, before.stop + 10)
        keys += await push_to_all(fake, [other], after)  # the balancer's only instance now
        first_send = await eventually(
            lambda: next((m.at for m in fake.sent if m.at > killed_at), None),
            what="the other instance's first send",
            timeout=WAIT_SECONDS,
            context=other.process.log_tail,
        )
        assert first_send is not None
        took = first_send - killed_at
        final = await all_answered(fake, database_url, range(before.start, after.stop))
        held = await other.leases()
    finally:
        await alpha.process.stop()
        await beta.process.stop()

    print(
        f"\nSIGKILL of the sender {sender.name}: {other.name} sent {took:.2f} s later "
        f"(LEADER_TAKEOVER_SECONDS={TAKEOVER_SECONDS:g})"
    )
    assert took < WITHIN_SECONDS
    assert held == {sender_lease(fake): True, f"instance/{other.name}": True}
    assert_within_the_limits(fake, range(before.start, after.stop))
    assert_answered_once(fake, final, keys, extra=1)
