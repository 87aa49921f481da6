"""The relay's guarantees: at-least-once, in order per conversation, errors classified."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.language import detect_language
from bot.model import (
    Address,
    OutboundMessage,
    PermanentSendError,
    SendReceipt,
    ThrottledSendError,
    TransientSendError,
)
from bot.relay import Relay, RelayPolicy
from channels.console import ConsoleChannel
from storage.repos.outbox import NewOutbound
from storage.uow import Database
from tests.harness import BotHarness, Customer, FakeChannel, FakeClock
from tests.integration.helpers import (
    another_instance,
    claim_one,
    kinds,
    new_conversation,
    outbox_rows,
    stored_messages,
    unreachable_like,
)
from tests.waiting import eventually

GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)
MENU = "What would you like to do?"
THANKS = "You're welcome! Write any time."
BLOCKED = "Forbidden: bot was blocked by the user"


async def test_delivered_reply_is_marked_sent_stored_and_recorded(bot: BotHarness) -> None:
    alice = bot.customer("alice")

    assert await alice.say("Hello") == [GREETING, MENU]

    rows = await outbox_rows(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1), ("sent", 1)]
    outbound = await stored_messages(bot.database, "out")
    assert [(m.external_id, m.text) for m in outbound] == [
        ("out:sent-0", GREETING),
        ("out:sent-1", MENU),
    ]
    async with bot.database.transaction() as uow:
        delivered = await uow.touchpoints.search(kind="delivered")
    assert [t.details for t in delivered] == [
        {"outbox_id": rows[0].id, "attempts": 1, "external_id": "sent-0"},
        {"outbox_id": rows[1].id, "attempts": 1, "external_id": "sent-1"},
    ]
    assert {t.conversation_id for t in delivered} == {rows[0].conversation_id}


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        pytest.param(
            lambda: TransientSendError("502 Bad Gateway"), "502 Bad Gateway", id="transient"
        ),
        pytest.param(
            lambda: RuntimeError("connection reset by peer"),
            "RuntimeError: connection reset by peer",
            id="unexpected",
        ),
    ],
)
async def test_failed_send_is_retried_later(
    bot: BotHarness, error: Callable[[], Exception], recorded: str
) -> None:
    alice = bot.customer("alice")
    alice.channel.failures.append(error())

    assert await alice.say("thanks") == []

    [row] = await outbox_rows(bot.database)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, recorded)
    assert row.next_attempt_at > bot.clock()
    assert await bot.deliver() == 0  # not due yet
    assert alice.channel.sent == []

    bot.clock.now = row.next_attempt_at
    assert await bot.deliver() == 1
    assert alice.channel.texts_to("alice") == [THANKS]
    [row] = await outbox_rows(bot.database)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_retry_after_of_a_rate_limit_is_honoured(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    alice.channel.failures.append(
        TransientSendError("429 Too Many Requests: retry after 30", retry_after=30)
    )

    await alice.say("thanks")

    bot.clock.advance(seconds=10)  # well past the usual first backoff
    assert await bot.deliver() == 0
    bot.clock.advance(seconds=21)
    assert await bot.deliver() == 1
    assert alice.channel.texts_to("alice") == [THANKS]


async def test_reply_fails_after_max_attempts_and_the_next_one_goes_out(
    bot: BotHarness,
) -> None:
    attempts = RelayPolicy().max_attempts
    alice = bot.customer("alice")
    alice.channel.failures.extend(TransientSendError("timed out") for _ in range(attempts))

    await bot.dispatcher.accept(alice.message("Hello"))
    for _ in range(attempts - 1):
        await bot.deliver()
        bot.clock.advance(seconds=RelayPolicy().max_delay + 1)
    statuses = [(row.status, row.attempts) for row in await outbox_rows(bot.database)]
    assert statuses == [("pending", attempts - 1), ("pending", 0)]

    await bot.deliver()

    statuses = [(row.status, row.attempts) for row in await outbox_rows(bot.database)]
    assert statuses == [("failed", attempts), ("sent", 1)]
    assert alice.channel.texts_to("alice") == [MENU]
    async with bot.database.transaction() as uow:
        [failed] = await uow.touchpoints.search(kind="failed")
    assert failed.details["attempts"] == attempts
    assert failed.details["reason"] == "timed out"
    bot.clock.advance(hours=1)
    assert await bot.deliver() == 0


async def test_permanent_error_fails_at_once_and_is_not_retried(bot: BotHarness) -> None:
    alice = bot.customer("alice")
    alice.channel.failures.append(PermanentSendError("Bad Request: message is too long"))

    assert await alice.say("thanks") == []

    [row] = await outbox_rows(bot.database)
    assert (row.status, row.attempts, row.last_error) == (
        "failed",
        1,
        "Bad Request: message is too long",
    )
    bot.clock.advance(hours=1)
    assert await bot.deliver() == 0
    assert "failed" in await kinds(bot.database)
    assert "unreachable" not in await kinds(bot.database)
    # The recipient itself is fine: the next reply goes out.
    assert await alice.say("thanks") == [THANKS]


async def test_blocked_recipient_is_marked_unreachable_and_not_tried_again(
    bot: BotHarness,
) -> None:
    lea = bot.customer("5001", channel="telegram")
    lea.channel.failures.append(PermanentSendError(BLOCKED, unreachable=True))

    # Both replies of the turn fail: the first at the adapter, the second without calling it.
    assert await lea.say("Hello") == []

    assert lea.channel.sent == [] and not lea.channel.failures
    rows = await outbox_rows(bot.database)
    assert [(row.status, row.attempts) for row in rows] == [("failed", 1), ("failed", 1)]
    assert rows[1].last_error is not None and "unreachable" in rows[1].last_error
    async with bot.database.transaction() as uow:
        assert not await uow.contacts.is_reachable("telegram", "5001")
        [unreachable] = await uow.touchpoints.search(kind="unreachable")
    assert unreachable.details == {"reason": BLOCKED}
    assert (await kinds(bot.database)).count("failed") == 2


async def test_customer_who_unblocked_the_bot_is_answered_again(bot: BotHarness) -> None:
    # Regression: an identity marked unreachable stayed so forever, so a customer who blocked
    # the bot once never got an answer again, not even to their own next message.
    lea = bot.customer("5001", channel="telegram")
    lea.channel.failures.append(PermanentSendError(BLOCKED, unreachable=True))
    await lea.say("thanks")

    assert await lea.say("/start") == [GREETING, MENU]

    async with bot.database.transaction() as uow:
        assert await uow.contacts.is_reachable("telegram", "5001")
    assert "reachable_again" in await kinds(bot.database)


async def test_a_transient_failure_holds_back_the_rest_of_the_conversation(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    bob = bot.customer("bob")
    alice.channel.failures.append(TransientSendError("503 Service Unavailable"))

    await bot.dispatcher.accept(alice.message("Hello"))
    await bot.dispatcher.accept(bob.message("thanks"))
    await bot.deliver()

    assert alice.channel.texts_to("alice") == []  # the menu waits for the greeting
    assert bob.channel.texts_to("bob") == [THANKS]  # other conversations are not held back
    bot.clock.advance(minutes=1)
    await bot.deliver()
    assert alice.channel.texts_to("alice") == [GREETING, MENU]


async def test_reply_left_sending_by_a_crashed_relay_is_delivered_once_more(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await bot.dispatcher.accept(alice.message("thanks"))
    lease = RelayPolicy().lease
    async with bot.database.transaction() as uow:  # the relay that crashes after claiming
        claimed = await claim_one(uow, bot.clock(), lease, "crashed:1")
        await uow.commit()
    assert claimed is not None

    bot.restart()
    assert await bot.deliver() == 0  # its lease still holds
    bot.clock.advance(seconds=lease.total_seconds() + 1)
    assert await bot.deliver() == 1
    assert await bot.deliver() == 0

    assert alice.channel.texts_to("alice") == [THANKS]
    [row] = await outbox_rows(bot.database)
    assert (row.id, row.status, row.attempts) == (claimed.id, "sent", 2)
    assert (await kinds(bot.database)).count("delivered") == 1


async def test_two_relays_deliver_each_reply_once_and_in_order(bot: BotHarness) -> None:
    customers = [bot.customer(f"customer-{n}") for n in range(5)]
    for customer in customers:
        await bot.dispatcher.accept(customer.message("Hello"))

    async with another_instance(bot.database) as database:
        other = Relay(database, bot.channels, clock=bot.clock, jitter=lambda: 0.5)
        await asyncio.gather(bot.relay.deliver_due(), other.deliver_due())

    for customer in customers:
        assert _texts(customer) == [GREETING, MENU]
    assert [row.status for row in await outbox_rows(bot.database)] == ["sent"] * 10
    assert (await kinds(bot.database)).count("delivered") == 10


async def test_relay_loop_survives_a_database_outage(
    bot: BotHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: an error from the database ended `Relay.run`, and with it the whole app,
    # while the scheduler's loop already waited for the database to come back.
    unreachable = unreachable_like(bot.database, tmp_path)
    relay = Relay(unreachable, bot.channels, policy=RelayPolicy(poll_seconds=0.01))
    try:
        running = asyncio.create_task(relay.run())
        await eventually(
            lambda: len(_relay_errors(caplog)) >= 3 or running.done(),
            what="three failed polls (or the relay ending)",
        )
        assert not running.done()
        relay.stop()
        await running
    finally:
        await unreachable.dispose()
    assert len(_relay_errors(caplog)) >= 3
    assert {record.getMessage() for record in _relay_errors(caplog)} == {
        f"relay poll of {name} failed" for name in bot.channels
    }


def _relay_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "bot.relay"]


def _texts(customer: Customer) -> list[str]:
    return customer.channel.texts_to(customer.address.value)


async def test_a_restarted_instance_sends_its_own_leased_rows_at_once(bot: BotHarness) -> None:
    # After a SIGKILL the reply in flight waited out the whole lease (60 s) before anybody sent
    # it. The same instance, restarted, takes back what it held; another instance's leases stay.
    alice, bob = bot.customer("alice"), bot.customer("bob")
    await bot.dispatcher.accept(alice.message("thanks"))
    await bot.dispatcher.accept(bob.message("thanks"))
    lease = RelayPolicy().lease
    async with bot.database.transaction() as uow:
        mine = await claim_one(uow, bot.clock(), lease, "this-host:1")
        theirs = await claim_one(uow, bot.clock(), lease, "other-host:1")
        await uow.commit()
    assert mine is not None and theirs is not None

    restarted = Relay(
        bot.database, bot.channels, clock=bot.clock, policy=RelayPolicy(holder="this-host")
    )
    await restarted.reclaim()
    assert await restarted.deliver_due() == 1

    assert [m.address.value for m in bot.channels["console"].sent] == [mine.address]
    rows = {row.id: row for row in await outbox_rows(bot.database)}
    assert (rows[mine.id].status, rows[mine.id].attempts) == ("sent", 1)
    assert rows[theirs.id].status == "sending"  # another instance's: its lease still holds


class SlowChannel(FakeChannel):
    """A channel whose sends take `seconds` (a large file, a slow SMTP server)."""

    def __init__(self, seconds: float) -> None:
        super().__init__("console")
        self.seconds = seconds

    async def send(self, message: OutboundMessage) -> SendReceipt:
        await asyncio.sleep(self.seconds)
        return await super().send(message)


async def test_a_send_slower_than_the_lease_keeps_its_lease_and_goes_once(
    bot: BotHarness,
) -> None:
    alice = bot.customer("alice")
    await bot.dispatcher.accept(alice.message("thanks"))
    slow = SlowChannel(seconds=0.6)
    policy = RelayPolicy(lease=timedelta(seconds=0.3), holder="a")
    first = Relay(bot.database, {"console": slow}, policy=policy)
    second = Relay(bot.database, {"console": slow}, policy=replace(policy, holder="b"))

    async def second_tries_meanwhile() -> int:
        await asyncio.sleep(0.35)  # past the lease: only a renewal keeps the row
        return await second.deliver_due()

    delivered, taken_over = await asyncio.gather(first.deliver_due(), second_tries_meanwhile())

    assert (delivered, taken_over) == (1, 0)
    assert [m.text for m in slow.sent] == [THANKS]
    [row] = await outbox_rows(bot.database)
    assert (row.status, row.attempts) == ("sent", 1)


async def test_each_terminal_delivers_only_its_own_customers_replies(bot: BotHarness) -> None:
    # Regression: two `touchpoint shell`s on one database printed each other's replies (a
    # follow-up, a rep's answer): every relay leased any row of the console channel.
    anna, boris, carol = (bot.customer(name) for name in ("anna", "boris", "carol"))
    for customer in (anna, boris, carol):
        await bot.dispatcher.accept(customer.message("thanks"))
    screens = {name: io.StringIO() for name in ("anna", "boris", "carol")}

    async with another_instance(bot.database) as database:
        await _terminal_relay(database, bot, "anna", screens["anna"]).deliver_due()
        await _terminal_relay(database, bot, "boris", screens["boris"]).deliver_due()

    assert screens["anna"].getvalue() == f"bot> {THANKS}\n"
    assert screens["boris"].getvalue() == f"bot> {THANKS}\n"
    rows = {row.conversation_id: row for row in await outbox_rows(bot.database)}
    assert [(row.status, row.attempts) for row in rows.values()] == [
        ("sent", 1),
        ("sent", 1),
        ("pending", 0),  # carol's terminal is not open: her reply waits, never even leased
    ]

    async with another_instance(bot.database) as database:  # carol opens a terminal
        await _terminal_relay(database, bot, "carol", screens["carol"]).deliver_due()
    assert screens["carol"].getvalue() == f"bot> {THANKS}\n"


def _terminal_relay(database: Database, bot: BotHarness, name: str, screen: io.StringIO) -> Relay:
    terminal = ConsoleChannel(name, stdin=io.StringIO(), stdout=screen)
    return Relay(database, {"console": terminal}, clock=bot.clock, jitter=lambda: 0.5)


async def test_a_terminal_refuses_a_message_for_another_one_without_spending_it(
    bot: BotHarness,
) -> None:
    screen = io.StringIO()
    terminal = ConsoleChannel("anna", stdin=io.StringIO(), stdout=screen)
    with pytest.raises(ThrottledSendError):
        await terminal.send(OutboundMessage(Address("console", "boris"), "for boris"))
    assert screen.getvalue() == ""


async def test_a_terminal_starting_on_the_same_host_leaves_the_other_relays_leases(
    bot: BotHarness,
) -> None:
    # A shell on the machine where `touchpoint run` works has the same INSTANCE_NAME: taking
    # back "its own" leases at start-up took the run's reply in flight, which then went twice.
    alice = bot.customer("alice")
    await bot.dispatcher.accept(alice.message("thanks"))
    lease = RelayPolicy().lease
    async with bot.database.transaction() as uow:  # the run's relay, sending to alice
        held = await claim_one(uow, bot.clock(), lease, "this-host:1")
        await uow.commit()
    assert held is not None

    shell = ConsoleChannel("bob", stdin=io.StringIO(), stdout=io.StringIO())
    policy = RelayPolicy(holder="this-host")
    await Relay(bot.database, {"console": shell}, clock=bot.clock, policy=policy).reclaim()

    [row] = await outbox_rows(bot.database)
    assert (row.id, row.status) == (held.id, "sending")


async def test_a_replys_language_is_detected_only_for_a_channel_that_states_it(
    bot: BotHarness,
) -> None:
    """A mail says its language (Content-Language); a Telegram message does not, so the relay
    spends no detection on it."""
    await bot.customer("ivan@example.ru", channel="email").say("Здравствуйте, нужна консультация")
    await bot.customer("4242", channel="telegram").say("Здравствуйте, нужна консультация")

    mails, chats = bot.channels["email"].sent, bot.channels["telegram"].sent
    assert mails and {message.language for message in mails} == {"ru"}
    assert chats and {message.language for message in chats} == {"en"}
    assert all(detect_language(message.text) == "ru" for message in chats)  # Russian all the same


async def test_a_relay_told_to_wait_takes_back_and_sends_nothing_until_ready(
    bot: BotHarness,
) -> None:
    """Under a name another running process may share, what is leased under that name is the
    other's until this process holds its presence (bot/bootstrap.py): the relay waits."""
    alice, bob = bot.customer("alice"), bot.customer("bob")
    await bot.dispatcher.accept(alice.message("thanks"))
    async with bot.database.transaction() as uow:
        in_flight = await claim_one(uow, bot.clock(), RelayPolicy().lease, "this-host:1")
        await uow.commit()
    assert in_flight is not None
    await bot.dispatcher.accept(bob.message("thanks"))

    relay = Relay(
        bot.database, bot.channels, clock=bot.clock, policy=RelayPolicy(holder="this-host")
    )
    ready = asyncio.Event()
    running = asyncio.create_task(relay.run(ready=ready))
    try:
        relay.wake()
        await asyncio.sleep(0.2)
        assert bot.channels["console"].sent == []
        assert {row.status for row in await outbox_rows(bot.database)} == {"sending", "pending"}
        ready.set()
        await eventually(lambda: len(bot.channels["console"].sent) == 2, what="both replies")
    finally:
        relay.stop()
        await asyncio.wait_for(running, 10)
    assert sorted(m.address.value for m in bot.channels["console"].sent) == ["alice", "bob"]


async def test_a_relay_waiting_to_be_ready_stops_when_asked(bot: BotHarness) -> None:
    relay = Relay(bot.database, bot.channels, clock=bot.clock)
    running = asyncio.create_task(relay.run(ready=asyncio.Event()))
    await asyncio.sleep(0.05)
    relay.stop()
    await asyncio.wait_for(running, 5)


# --- one channel's trouble is its own ---------------------------------------------------------


@dataclass
class HangingChannel(FakeChannel):
    """Its sends wait until `released`: a mail server that accepted the connection and then
    stopped answering (a send then waits out the client's timeout, 30 s for SMTP)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self.started.set()
        await self.released.wait()
        return await super().send(message)


async def queue_to(database: Database, clock: FakeClock, *replies: tuple[str, str, str]) -> None:
    """Replies (channel, address, text), each to a conversation of its own, queued at once."""
    async with database.transaction() as uow:
        rows = []
        for channel, address, text in replies:
            conversation = await new_conversation(uow, clock(), address, channel)
            rows.append(NewOutbound(channel, address, text, conversation_id=conversation.id))
        await uow.outbox.enqueue(rows, clock())
        await uow.commit()


async def a_mail_then_a_chat_reply(
    database: Database, clock: FakeClock
) -> tuple[HangingChannel, FakeChannel, Relay]:
    """A reply to a mail, then one to a chat, queued; a relay whose mail sends hang."""
    mail, chat = HangingChannel(name="email"), FakeChannel(name="telegram")
    await queue_to(
        database, clock, ("email", "ann@example.org", "mail 1"), ("telegram", "7001", "chat 1")
    )
    return mail, chat, Relay(database, {"email": mail, "telegram": chat}, clock=clock)


async def test_a_channel_whose_sends_hang_holds_up_no_other_channel(
    database: Database, clock: FakeClock
) -> None:
    # The mail was queued first: one relay loop for every channel would send it first and wait.
    mail, chat, relay = await a_mail_then_a_chat_reply(database, clock)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(mail.started.wait(), 10)
        await eventually(lambda: chat.texts_to("7001") == ["chat 1"], what="the chat's reply")
        await queue_to(database, clock, ("telegram", "7002", "chat 2"))
        relay.wake(["telegram"])
        await eventually(lambda: chat.texts_to("7002") == ["chat 2"], what="a later chat reply")
        assert mail.sent == []  # still waiting for its server

        mail.released.set()
        await eventually(lambda: mail.texts_to("ann@example.org") == ["mail 1"], what="the mail")
    finally:
        relay.stop()
        mail.released.set()
        await asyncio.wait_for(running, 10)
    assert {row.status for row in await outbox_rows(database)} == {"sent"}


async def test_the_drain_at_a_stop_sends_each_channel_on_its_own(
    database: Database, clock: FakeClock
) -> None:
    mail, chat, relay = await a_mail_then_a_chat_reply(database, clock)
    try:
        with pytest.raises(TimeoutError):  # the stop's time runs out while the mail hangs
            await asyncio.wait_for(relay.drain(), 2)
    finally:
        mail.released.set()

    assert chat.texts_to("7001") == ["chat 1"]
    assert mail.sent == []
    statuses = {row.text: row.status for row in await outbox_rows(database)}
    assert statuses == {"chat 1": "sent", "mail 1": "sending"}  # taken back at the next start
