"""Three `touchpoint run` instances on one PostgreSQL database, each with the same bot and the
same mailbox: in webhook mode behind a round-robin balancer, or polling with one poller. 600
updates from 100 chats and 100 mails arrive while the instance that reads the mailbox (and,
having started first, holds the other leases too) is killed (SIGKILL) and another is restarted:
every message is stored once and answered, each chat's replies reach it in order, at most one
reply per kill goes out twice, every lease the killed instance held is taken over (the test
prints after how long), and the Bot API's limits hold over the three together.

Timers fall due during the run, the first of them as the kill comes: tickets' follow-ups (from
chats and mails that open a ticket) and the queue deadlines of hand-offs nobody takes (the one
rep never comes online), all set TIMER_SECONDS ahead through the public settings. Each fires
once: the timers table shows it fired, its touchpoint is written once and its message queued
once (and received once, but for the one reply that may be in flight at the kill).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from tests.bot_process import held_leases, listening
from tests.e2e import fired_timers
from tests.e2e import test_email_run as email_run
from tests.e2e import test_telegram_crash as telegram_crash
from tests.e2e.test_email_crash import (
    Mail,
    deliver,
    every_mail_answered,
    header,
    mailbox_of_200,
)
from tests.e2e.test_email_crash import stored as stored_mail
from tests.e2e.test_email_run import email_environment
from tests.e2e.test_email_standby import Instance as MailInstance
from tests.e2e.test_handoff_restart import add_rep, touchpoint
from tests.e2e.test_telegram_pacing import SECRET, assert_within_the_limits, push_update
from tests.fakes.telegram import FakeTelegram
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

smtp_server = smtp_service.smtp_server
inbox = email_run.inbox

TAKEOVER_SECONDS = 3.0
WITHIN_SECONDS = TAKEOVER_SECONDS + 15.0  # generous, for a loaded machine
WAIT_SECONDS = 240.0
CHATS = range(910_001, 910_101)  # 100 chats
TALKS = ("hello", "/help", "thanks", "/start", "ok", "/help")  # six updates each: 600
MAILS = 100  # 50 of them open a ticket (its follow-up is a timer), 50 ask for a quote
KILLS = 1
# Three instances, PostgreSQL and this process share 2 CPUs: a send can leave its process up to
# this much after the pacer let it go (tests/e2e/test_telegram_pacing.py counts exact seconds
# on a quieter machine).
SEND_LATE = 0.1
TIMER_SECONDS = 10.0  # every timer of the test falls due this long after it is set
TICKET_CHATS = range(910_101, 910_116)  # each opens a ticket: its follow-up
QUEUE_CHATS = range(910_116, 910_131)  # each asks for a person nobody takes: the queue deadline
REP = 4242  # a rep who never comes online: a request for a person waits in the queue
COMPLAINT = "My order 5531 arrived damaged, two chairs have broken armrests."
ALL_CHATS = range(CHATS.start, QUEUE_CHATS.stop)
MAIL_TICKETS = MAILS // 2  # the first half of mailbox_of_200: damaged chairs
AROUND_THE_KILL = 5.0  # seconds either side of the kill (the scheduler polls every 5 s)
TIMERS = len(TICKET_CHATS) + MAIL_TICKETS + len(QUEUE_CHATS)


class Node(MailInstance):
    """One instance: its webhook behind the balancer (webhook mode), its leases, its /healthz."""

    def __init__(
        self, name: str, fake: FakeTelegram, env: dict[str, str], log: Path, *, polling: bool
    ) -> None:
        hook_port = free_port()
        self.webhook = f"http://127.0.0.1:{hook_port}/telegram"
        telegram = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.api_url}
        if not polling:
            telegram |= {
                "TELEGRAM_WEBHOOK_URL": self.webhook,
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{hook_port}",
            }
        super().__init__(name, env | telegram, log)
        self.polling = polling

    async def holds(self) -> dict[str, bool]:
        return await held_leases(self.port)

    async def push(self, update: dict[str, object]) -> None:
        await push_update(self.name, self.webhook, update)


def leases_of(polling: bool) -> tuple[str, ...]:
    """The kinds of lease one node at a time holds."""
    return ("imap/", "telegram-sender/", *(("telegram-poller/",) if polling else ()))


def _holds(held: dict[str, bool], kind: str) -> bool:
    return any(holding for name, holding in held.items() if name.startswith(kind))


async def serving(nodes: list[Node]) -> None:
    """Every node answers /healthz, and one holds each lease."""
    kinds = leases_of(nodes[0].polling)

    async def ready() -> bool:
        held = [await node.holds() for node in nodes]
        if not all(held):
            return False
        return all(sum(_holds(h, kind) for h in held) == 1 for kind in kinds)

    def logs() -> str:
        return "\n".join(node.process.log_tail() for node in nodes)

    await eventually(ready, what="three serving, one holder a lease", timeout=90, context=logs)


async def holder(nodes: list[Node], kind: str) -> Node:
    for node in nodes:
        if _holds(await node.holds(), kind):
            return node
    raise AssertionError(f"nobody holds {kind}")


async def taken_over(nodes: list[Node], kinds: list[str], since: float) -> dict[str, float]:
    """Seconds from `since` until one of `nodes` held each kind of lease."""
    took: dict[str, float] = {}
    deadline = since + WAIT_SECONDS
    while len(took) < len(kinds) and time.monotonic() < deadline:
        for node in nodes:
            held = await node.holds()
            for kind in kinds:
                if kind not in took and _holds(held, kind):
                    took[kind] = time.monotonic() - since
        await asyncio.sleep(0.1)
    return took


async def push(
    fake: FakeTelegram, nodes: list[Node], chats: range, talks: tuple[str, ...] = TALKS
) -> list[str]:
    """Each chat's updates, one after another as Telegram sends a chat's; the chats at once,
    each update to the next node of the balancer (round robin) — or, polling, left in the fake
    for the poller."""
    balancer = itertools.cycle(nodes)

    async def chat(chat_id: int) -> list[str]:
        keys = []
        for text in talks:
            update = fake.user_message(chat_id, text, first_name=f"Customer {chat_id}")
            node = next(balancer)
            if not node.polling:
                await node.push(update)
            keys.append(f"{chat_id}:{update['message']['message_id']}")
        return keys

    return [key for keys in await asyncio.gather(*map(chat, chats)) for key in keys]


def in_order_with_repeats(sent: list[str], stored: list[str]) -> int:
    """How many of `sent` are repeats, when taking them out leaves `stored` in its order;
    fails when no such reading exists."""
    position = 0
    for text in sent:
        if position < len(stored) and text == stored[position]:
            position += 1
    assert position == len(stored), f"sent {sent} is not {stored} in order"
    return len(sent) - len(stored)


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_three_instances_share_telegram_and_a_mailbox_through_a_kill_and_a_restart(
    fake: FakeTelegram,
    database_url: str,
    inbox: Dovecot,
    smtp_server: SmtpServer,
    tmp_path: Path,
    mode: str,
) -> None:
    mails: list[Mail] = mailbox_of_200()[:MAILS]
    env = email_environment(
        database_url, inbox, smtp_server, RELAY_LEASE_SECONDS="2", FLOOD_LIMIT="0"
    ) | {
        "LEADER_TAKEOVER_SECONDS": str(TAKEOVER_SECONDS),
        "FOLLOWUP_AFTER_HOURS": str(TIMER_SECONDS / 3600),
        "HANDOFF_QUEUE_MINUTES": str(TIMER_SECONDS / 60),
    }
    polling = mode == "polling"
    await touchpoint(env, "db", "upgrade")
    await add_rep(env, "Olga", REP)
    nodes = [
        Node(name, fake, env, tmp_path / f"{name}.log", polling=polling)
        for name in ("ana", "ben", "cai")
    ]
    for node in nodes:
        await node.process.start()
    try:
        await serving(nodes)
        reader = await holder(nodes, "imap/")
        restarted = next(node for node in nodes if node is not reader)
        half = len(CHATS) // 2
        keys = await push(fake, nodes, TICKET_CHATS, (COMPLAINT,))
        keys += await push(fake, nodes, QUEUE_CHATS, ("/human",))
        timers_set = time.monotonic()
        keys += await push(fake, nodes, CHATS[:half])
        await deliver(inbox, mails[: MAILS // 2])
        await eventually(lambda: len(fake.sent) >= 30, what="sending under way", timeout=60)
        # the kill comes as the first timers fall due
        await asyncio.sleep(max(0.0, timers_set + TIMER_SECONDS - 1 - time.monotonic()))

        held = await reader.holds()
        victim = [kind for kind in leases_of(polling) if _holds(held, kind)]
        await reader.process.kill()
        killed_at, killed_on_the_clock = time.monotonic(), fired_timers.now()
        alive = [node for node in nodes if node is not reader]
        watching = asyncio.create_task(taken_over(alive, victim, killed_at))
        await restarted.process.stop()
        await restarted.process.start()
        if not polling:
            await eventually(
                lambda: listening(restarted.webhook), what="the restarted node serving"
            )
        keys += await push(fake, alive, CHATS[half:])
        await deliver(inbox, mails[MAILS // 2 :])
        took = await watching
        await eventually(
            every_mail_answered(smtp_server, mails), what="every mail answered",
            timeout=WAIT_SECONDS, context=lambda: "\n".join(n.process.log_tail() for n in alive),
        )  # fmt: skip
        timers = await eventually(
            lambda: fired_timers.settled(database_url, TIMERS),
            what="every timer fired", timeout=WAIT_SECONDS, interval=0.5,
        )  # fmt: skip
        assert timers is not None
        final = await _all_answered(fake, database_url)
    finally:
        for node in nodes:
            await node.process.stop()

    taken = ", ".join(f"{kind.rstrip('/')} {seconds:.2f} s" for kind, seconds in took.items())
    print(
        f"\n{mode}: SIGKILL of {reader.name}, {restarted.name} restarted; taken over after the "
        f"kill: {taken}; {len(fake.sent)} Telegram messages, {len(smtp_server.envelopes)} mails; "
        f"{timers.summary(killed_on_the_clock, AROUND_THE_KILL)}"
    )
    assert sorted(took) == sorted(victim) and max(took.values()) < WITHIN_SECONDS
    telegram = [r for r in final.replies if r.address.isdigit()]
    assert sorted(k for k in final.inbound if "@" not in k) == sorted(keys)
    assert final.parked == 0
    assert [r for r in telegram if r.status != "sent"] == []
    repeats = 0
    for chat_id in ALL_CHATS:
        sent = [m.raw_text for m in fake.sent if m.chat_id == chat_id and m.method == "sendMessage"]
        repeats += in_order_with_repeats(sent, [r.text for r in final.replies_to(chat_id)])
    assert repeats <= KILLS, "only a reply in flight at the kill goes out twice"
    mail = await stored_mail(database_url)
    assert sorted(m for m in mail.inbound if "@" in m) == sorted(m.message_id for m in mails)
    answers = [e for e in smtp_server.envelopes if header(e, "Message-ID") not in timers.mails]
    assert len(answers) - MAILS <= KILLS
    assert_within_the_limits(fake, ALL_CHATS, late=SEND_LATE)
    _each_timer_fired_once(timers, fake, smtp_server, killed_on_the_clock)


def _each_timer_fired_once(
    timers: fired_timers.Fired, fake: FakeTelegram, smtp: SmtpServer, killed_at: datetime
) -> None:
    tickets = len(TICKET_CHATS) + MAIL_TICKETS
    assert timers.count(fired_timers.FOLLOWUP) == tickets
    assert timers.count(fired_timers.QUEUE) == len(QUEUE_CHATS)
    assert timers.due_around(killed_at, AROUND_THE_KILL) > 0, "a timer falls due at the kill"
    # every timer fired, its effect recorded and its message queued exactly once
    assert [t for t in timers.timers if t.status != "fired"] == []
    assert timers.effects_per_timer() == {1}
    assert timers.messages_per_timer() == {1}
    # and received once, but for the one reply in flight at the kill
    followups = _timer_texts(fake, TICKET_CHATS, "Following up on your request #")
    timed_out = _timer_texts(fake, QUEUE_CHATS, "nobody from our team could take")
    mailed = Counter(
        ours for e in smtp.envelopes if (ours := header(e, "Message-ID")) in timers.mails
    )
    received = [*followups.values(), *timed_out.values(), *mailed.values()]
    assert len(received) == tickets + len(QUEUE_CHATS) and min(received) == 1
    assert sum(received) - len(received) <= KILLS


def _timer_texts(fake: FakeTelegram, chats: range, text: str) -> Counter[int]:
    """How many messages containing `text` each chat received."""
    return Counter(m.chat_id for m in fake.sent if m.chat_id in chats and text in m.raw_text)


async def _all_answered(fake: FakeTelegram, database_url: str) -> telegram_crash.Stored:
    async def done() -> telegram_crash.Stored | None:
        final = await telegram_crash.stored(database_url)
        telegram = [r for r in final.replies if r.address.isdigit()]
        seen = Counter(message.chat_id for message in fake.sent)
        every_chat = all(seen[chat] >= len(final.replies_to(chat)) > 0 for chat in ALL_CHATS)
        return final if every_chat and all(r.status == "sent" for r in telegram) else None

    found = await eventually(done, what="every update answered", timeout=WAIT_SECONDS)
    assert found is not None
    return found
