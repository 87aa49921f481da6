"""IMAP ingest against a real Dovecot on 127.0.0.1: what is handed over, in which order, with
which bytes, and that the watermark moves only after `handle` returned — across restarts, a
new UIDVALIDITY and the catch-up that follows it (or the first sweep), mail read elsewhere,
refusals, kicked connections, IDLE, the size cap and TLS.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from channels.email.imap import (
    Ahead,
    CatchUp,
    HandOverFailed,
    ImapConfig,
    ImapConfigError,
    ImapIngest,
)
from channels.email.mail import FetchedMail, MailHead
from tests.services.dovecot import Dovecot
from tests.waiting import eventually

BOT = "bot@example.com"
WAIT = 20.0  # generous bound for "promptly": never a timing assertion, only a hang detector


class MemoryWatermarks:
    def __init__(self) -> None:
        self.value: tuple[int, int, int] | None = None

    async def load(self) -> tuple[int, int, int] | None:
        return self.value

    async def save(self, uidvalidity: int, last_uid: int, catch_up_to: int = 0) -> None:
        self.value = (uidvalidity, last_uid, catch_up_to)


class Recorder:
    """A `handle` that accepts every mail except the UIDs in `refuse`, and records them."""

    def __init__(self) -> None:
        self.mails: list[FetchedMail] = []
        self.refuse: set[int] = set()

    async def __call__(self, mail: FetchedMail) -> None:
        if mail.uid in self.refuse:
            raise RuntimeError("the database is away")
        self.mails.append(mail)

    @property
    def uids(self) -> list[int]:
        return [mail.uid for mail in self.mails]

    @property
    def raws(self) -> list[bytes]:
        return [mail.raw for mail in self.mails]


def mail(subject: str, body: bytes = b"Hello, I would like a quote.\r\n") -> bytes:
    head = f"From: Customer <customer@example.org>\r\nTo: {BOT}\r\nSubject: {subject}\r\n"
    message_id = f"Message-ID: <{uuid4().hex}@example.org>\r\n"
    return (head + message_id + "MIME-Version: 1.0\r\n").encode() + b"\r\n" + body


def russian_mail() -> bytes:
    """8-bit koi8-r text: bytes that a str round-trip would destroy."""
    body = "Здравствуйте! Нужен счёт на 3 станка.\r\n".encode("koi8_r")
    return mail("=?koi8-r?B?8NLJ18XU?=", body).replace(
        b"MIME-Version: 1.0\r\n",
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=koi8-r\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n",
    )


def imap_config(server: Dovecot, mailbox: str = "INBOX", **changes: Any) -> ImapConfig:
    plain = ImapConfig(
        host=server.host,
        port=server.port,
        user=BOT,
        password=server.users[BOT],
        security="none",
        mailbox=mailbox,
        command_timeout=10.0,
        backoff_seconds=0.2,
    )
    return replace(plain, **changes)


@pytest.fixture
async def mailbox(dovecot: Dovecot) -> str:
    """A fresh mailbox of the bot's, so tests sharing the server never see each other's mail."""
    name = f"test-{uuid4().hex[:10]}"
    await dovecot.create_mailbox(BOT, name)
    return name


@asynccontextmanager
async def ingest_of(
    config: ImapConfig,
    store: MemoryWatermarks,
    catch_up: CatchUp | None = None,
    ahead: Ahead | None = None,
) -> AsyncIterator[ImapIngest]:
    ingest = ImapIngest(config, store, catch_up, ahead)
    try:
        yield ingest
    finally:
        await ingest.close()


@asynccontextmanager
async def running(ingest: ImapIngest, handle: Recorder) -> AsyncIterator[None]:
    task = asyncio.create_task(ingest.run(handle))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_mails_are_handed_over_in_uid_order_with_their_exact_bytes(
    dovecot: Dovecot, mailbox: str
) -> None:
    raws = [mail("First"), russian_mail(), mail("Big", b"0123456789abcdef\r\n" * 20_000)]
    uids = [await dovecot.append(BOT, raw, mailbox) for raw in raws]
    store, inbox = MemoryWatermarks(), Recorder()

    async with ingest_of(imap_config(dovecot, mailbox), store) as ingest:
        handed = await ingest.sweep_once(inbox)

    assert handed == 3
    assert inbox.uids == uids == sorted(uids)
    assert inbox.raws == raws
    assert [mail.size for mail in inbox.mails] == [len(raw) for raw in raws]
    uidvalidity = inbox.mails[0].uidvalidity
    assert {mail.uidvalidity for mail in inbox.mails} == {uidvalidity}
    assert store.value == (uidvalidity, uids[-1], 0)
    for fetched in inbox.mails:
        assert fetched.internal_date is not None and fetched.internal_date.tzinfo is not None
        assert abs(datetime.now(UTC) - fetched.internal_date) < timedelta(hours=1)


async def test_watermark_survives_a_restart_and_the_newest_mail_is_not_handed_again(
    dovecot: Dovecot, mailbox: str
) -> None:
    for subject in ("One", "Two"):
        await dovecot.append(BOT, mail(subject), mailbox)
    store, inbox = MemoryWatermarks(), Recorder()
    async with ingest_of(imap_config(dovecot, mailbox), store) as first:
        assert await first.sweep_once(inbox) == 2

    async with ingest_of(imap_config(dovecot, mailbox), store) as restarted:
        # `UID FETCH n:*` / `UID SEARCH UID n:*` still name the newest message: not again
        assert await restarted.sweep_once(inbox) == 0
        third = mail("Three")
        uid = await dovecot.append(BOT, third, mailbox)
        assert await restarted.sweep_once(inbox) == 1

    assert len(inbox.mails) == 3
    assert (inbox.uids[-1], inbox.raws[-1]) == (uid, third)


async def test_a_mail_read_elsewhere_is_still_handed_over_and_none_is_marked_read(
    dovecot: Dovecot, mailbox: str
) -> None:
    read, unread = mail("Read in webmail"), mail("Not read")
    read_uid = await dovecot.append(BOT, read, mailbox)
    unread_uid = await dovecot.append(BOT, unread, mailbox)
    await dovecot.set_seen(BOT, read_uid, mailbox)
    inbox = Recorder()

    async with ingest_of(imap_config(dovecot, mailbox), MemoryWatermarks()) as ingest:
        assert await ingest.sweep_once(inbox) == 2

    assert inbox.raws == [read, unread]
    assert "\\Seen" not in await dovecot.flags(BOT, unread_uid, mailbox)


async def test_a_new_uidvalidity_resyncs_from_uid_1_without_losing_mail(dovecot: Dovecot) -> None:
    await dovecot.reset_mailbox(BOT)  # INBOX, empty
    for subject in ("Old 1", "Old 2", "Old 3"):
        await dovecot.append(BOT, mail(subject))
    store, inbox = MemoryWatermarks(), Recorder()
    async with ingest_of(imap_config(dovecot), store) as ingest:
        assert await ingest.sweep_once(inbox) == 3
        assert store.value is not None
        old_uidvalidity, *_ = store.value

        await ingest.close()
        await dovecot.reset_mailbox(BOT)  # rebuilt: new UIDVALIDITY, UIDs from 1 again
        rebuilt = [mail("After the rebuild 1"), mail("After the rebuild 2")]
        uids = [await dovecot.append(BOT, raw) for raw in rebuilt]
        assert uids == [1, 2]  # below the old watermark of 3: a plain sweep would skip them
        assert await ingest.sweep_once(inbox) == 2

    assert inbox.raws[3:] == rebuilt
    new_uidvalidity = inbox.mails[-1].uidvalidity
    assert new_uidvalidity != old_uidvalidity
    assert store.value == (new_uidvalidity, 2, 0)


class PassingOver:
    """Catch-up rules that pass over the mails whose Message-ID they are given, recording
    every head they are asked about."""

    def __init__(self, *raws: bytes) -> None:
        self.ids = {message_id_of(raw) for raw in raws}
        self.asked: list[MailHead] = []

    def rule(self) -> str:
        return "the test's mails are passed over"

    async def passed_over(self, heads: Sequence[MailHead]) -> dict[int, str]:
        self.asked.extend(heads)
        return {h.uid: "listed" for h in heads if message_id_of(h.header) in self.ids}

    def asked_about(self) -> list[int]:
        return [head.uid for head in self.asked]


def message_id_of(raw: bytes) -> str:
    found = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.MULTILINE | re.IGNORECASE)
    return found.group(1).decode() if found else ""


async def test_a_new_uidvalidity_passes_over_what_the_catch_up_rules_say_even_after_a_restart(
    dovecot: Dovecot, mailbox: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.email.imap")
    history = [mail("History 1"), mail("History 2")]
    for raw in history:
        await dovecot.append(BOT, raw, mailbox)
    store, inbox = MemoryWatermarks(), Recorder()
    async with ingest_of(imap_config(dovecot, mailbox), store) as ingest:
        assert await ingest.sweep_once(inbox) == 2
    old_uidvalidity = inbox.mails[0].uidvalidity

    # Rebuilt: the history again, and mail that came meanwhile; the ingest fails at UID 3.
    await dovecot.reset_mailbox(BOT, mailbox)
    meanwhile = [mail("Meanwhile 1"), mail("Meanwhile 2")]
    rebuilt = [history[0], meanwhile[0], meanwhile[1], history[1]]
    assert [await dovecot.append(BOT, raw, mailbox) for raw in rebuilt] == [1, 2, 3, 4]
    rules, inbox.refuse = PassingOver(*history), {3}
    async with ingest_of(imap_config(dovecot, mailbox), store, rules) as crashing:
        with pytest.raises(HandOverFailed):
            await crashing.sweep_once(inbox)
    uidvalidity = inbox.mails[-1].uidvalidity
    assert uidvalidity != old_uidvalidity and store.value == (uidvalidity, 2, 4)

    # Restarted in the middle of the catch-up: it goes on with the same rules up to UID 4;
    # mail after that is new, handed over without asking them.
    inbox.refuse.clear()
    async with ingest_of(imap_config(dovecot, mailbox), store, rules) as restarted:
        assert await restarted.sweep_once(inbox) == 1
        new = mail("New")
        assert await dovecot.append(BOT, new, mailbox) == 5
        assert await restarted.sweep_once(inbox) == 1

    assert inbox.raws == [*history, *meanwhile, new]
    assert rules.asked_about() == [1, 2, 3, 4, 3, 4]  # a batch at a time; 5 never
    assert all(message_id_of(head.header) for head in rules.asked)  # each with its header
    assert store.value == (uidvalidity, 5, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"UIDVALIDITY of {mailbox} changed" in warnings[0]


async def test_the_first_sweep_is_a_catch_up_that_a_restart_goes_on_with(
    dovecot: Dovecot, mailbox: str
) -> None:
    old = [mail("Old 1"), mail("Old 2")]
    waiting = mail("Waiting")
    for raw in (old[0], waiting, old[1]):
        await dovecot.append(BOT, raw, mailbox)
    rules, store, inbox = PassingOver(*old), MemoryWatermarks(), Recorder()
    inbox.refuse = {2}
    async with ingest_of(imap_config(dovecot, mailbox), store, rules) as first:
        with pytest.raises(HandOverFailed):
            await first.sweep_once(inbox)
    # Never past the refused UID 2 (UID 1, passed over, it may pass at the batch's end), and
    # the catch-up's bound is kept for the restart.
    assert store.value is not None and store.value[1] < 2 and store.value[2] == 3

    inbox.refuse.clear()
    async with ingest_of(imap_config(dovecot, mailbox), store, rules) as restarted:
        assert await restarted.sweep_once(inbox) == 1

    assert inbox.raws == [waiting]
    assert store.value[1:] == (3, 0)


async def test_a_refused_mail_keeps_the_watermark_and_comes_again(
    dovecot: Dovecot, mailbox: str
) -> None:
    raws = [mail("Accepted"), mail("Refused once"), mail("After it")]
    uids = [await dovecot.append(BOT, raw, mailbox) for raw in raws]
    store, inbox = MemoryWatermarks(), Recorder()
    inbox.refuse = {uids[1]}

    async with ingest_of(imap_config(dovecot, mailbox), store) as ingest:
        with pytest.raises(HandOverFailed) as failure:
            await ingest.sweep_once(inbox)
        assert failure.value.uid == uids[1]
        assert inbox.uids == uids[:1]
        assert store.value is not None and store.value[1] == uids[0]

        inbox.refuse.clear()
        assert await ingest.sweep_once(inbox) == 2

    assert inbox.raws == raws
    assert store.value[1] == uids[2]


async def test_the_next_mail_is_announced_before_the_current_one_is_handed_over(
    dovecot: Dovecot, mailbox: str
) -> None:
    raws = [mail("One"), mail("Two"), mail("Three, refused once"), mail("Four")]
    uids = [await dovecot.append(BOT, raw, mailbox) for raw in raws]
    store, inbox = MemoryWatermarks(), Recorder()
    inbox.refuse = {uids[2]}
    seen: list[tuple[str, int]] = []  # what happened, in order

    async def handle(fetched: FetchedMail) -> None:
        seen.append(("handed", fetched.uid))
        await inbox(fetched)

    def ahead(fetched: FetchedMail) -> None:
        seen.append(("ahead", fetched.uid))

    config = imap_config(dovecot, mailbox, window=1)  # one mail in hand at a time
    async with ingest_of(config, store, ahead=ahead) as ingest:
        with pytest.raises(HandOverFailed):
            await ingest.sweep_once(handle)
        # the fourth mail was announced, never handed over: the watermark waits at the second
        assert seen == [("ahead", uids[1]), ("handed", uids[0]), ("ahead", uids[2]),
                        ("handed", uids[1]), ("ahead", uids[3]), ("handed", uids[2])]  # fmt: skip
        assert store.value is not None and store.value[1] == uids[1]

        inbox.refuse.clear()
        assert await ingest.sweep_once(handle) == 2

    assert inbox.raws == raws
    assert store.value[1] == uids[3]


class Held:
    """A `handle` that keeps each mail until the test lets it go (or refuses it), and counts
    how many it holds at once."""

    def __init__(self) -> None:
        self.released: dict[int, asyncio.Event] = {}
        self.refuse: set[int] = set()
        self.handed: list[int] = []
        self.holding = self.most_held = 0

    def gate(self, uid: int) -> asyncio.Event:
        return self.released.setdefault(uid, asyncio.Event())

    async def __call__(self, mail: FetchedMail) -> None:
        self.handed.append(mail.uid)
        self.holding += 1
        self.most_held = max(self.most_held, self.holding)
        try:
            await self.gate(mail.uid).wait()
        finally:
            self.holding -= 1
        if mail.uid in self.refuse:
            raise RuntimeError("the database is away")


async def test_mails_are_handed_over_side_by_side_and_the_watermark_follows_the_oldest(
    dovecot: Dovecot, mailbox: str
) -> None:
    uids = [await dovecot.append(BOT, mail(f"Mail {n}"), mailbox) for n in range(5)]
    store, held = MemoryWatermarks(), Held()
    async with ingest_of(imap_config(dovecot, mailbox), store) as ingest:
        sweep = asyncio.create_task(ingest.sweep_once(held))
        await eventually(lambda: held.holding == 5, timeout=WAIT)  # all in hand at once
        for uid in reversed(uids[1:]):  # the newer ones done first
            held.gate(uid).set()
        await eventually(lambda: held.holding == 1, timeout=WAIT)
        await asyncio.sleep(0.05)
        # The oldest is still in hand: the watermark is where the first sweep put it, before all.
        assert store.value is not None and store.value[1] == 0
        held.gate(uids[0]).set()
        assert await asyncio.wait_for(sweep, WAIT) == 5
    assert held.handed == uids and store.value is not None and store.value[1] == uids[-1]


async def test_the_window_bounds_the_mails_in_hand_by_count_and_by_bytes(
    dovecot: Dovecot, mailbox: str
) -> None:
    raws = [mail(f"Mail {n}") for n in range(4)]
    for raw in raws:
        await dovecot.append(BOT, raw, mailbox)
    largest = max(len(raw) for raw in raws) + 64  # Dovecot may add a header line
    for config in (
        imap_config(dovecot, mailbox, window=2),
        imap_config(dovecot, mailbox, max_bytes=largest * 3 // 2),  # one body fits, not two
    ):
        store, held = MemoryWatermarks(), Held()
        for uid in range(1, 5):
            held.gate(uid).set()
        async with ingest_of(config, store) as ingest:
            assert await asyncio.wait_for(ingest.sweep_once(held), WAIT) == 4
        assert held.most_held <= (2 if config.window == 2 else 1)
        assert held.handed == [1, 2, 3, 4] and store.value is not None and store.value[1] == 4


async def test_a_refused_mail_in_the_window_stops_the_watermark_before_it(
    dovecot: Dovecot, mailbox: str
) -> None:
    uids = [await dovecot.append(BOT, mail(f"Mail {n}"), mailbox) for n in range(4)]
    store, held = MemoryWatermarks(), Held()
    held.refuse = {uids[1]}
    for uid in uids:
        held.gate(uid).set()
    async with ingest_of(imap_config(dovecot, mailbox), store) as ingest:
        with pytest.raises(HandOverFailed) as failed:
            await ingest.sweep_once(held)
        assert failed.value.uid == uids[1]
        assert store.value is not None and store.value[1] == uids[0]
        # The ones after it come again (the core knows those it already took), in order.
        held.refuse.clear()
        held.handed.clear()
        assert await ingest.sweep_once(held) == 3
    assert held.handed == uids[1:] and store.value[1] == uids[-1]


async def test_a_kicked_connection_is_reconnected_and_nothing_is_lost(
    dovecot: Dovecot, mailbox: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.email.imap")
    before, during = mail("Before the kick"), mail("While reconnecting")
    first_uid = await dovecot.append(BOT, before, mailbox)
    store, inbox = MemoryWatermarks(), Recorder()
    config = imap_config(dovecot, mailbox, idle_seconds=300.0, sweep_seconds=300.0)

    async with ingest_of(config, store) as ingest, running(ingest, inbox):
        await eventually(
            lambda: store.value is not None and store.value[1] == first_uid,
            what="the watermark at the first mail",
            timeout=WAIT,
        )
        dovecot.kick(BOT)
        await dovecot.append(BOT, during, mailbox)
        await eventually(
            lambda: len(inbox.mails) == 2 and connects(caplog) == 2,
            what="both mails, over a second connection",
            timeout=WAIT,
        )

    assert inbox.raws == [before, during]


def connects(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage().startswith("IMAP connected") for record in caplog.records)


async def test_idle_hands_over_a_new_mail_promptly(dovecot: Dovecot, mailbox: str) -> None:
    # Sweeps only every 5 minutes: within WAIT, only the server's IDLE push can bring the mail.
    config = imap_config(dovecot, mailbox, idle_seconds=300.0, sweep_seconds=300.0)
    store, inbox = MemoryWatermarks(), Recorder()

    async with ingest_of(config, store) as ingest, running(ingest, inbox):
        await eventually(
            lambda: store.value is not None, what="the first sweep (IDLE next)", timeout=WAIT
        )
        pushed = mail("Pushed")
        await dovecot.append(BOT, pushed, mailbox)
        await eventually(lambda: len(inbox.mails) == 1, what="the pushed mail", timeout=WAIT)

    assert inbox.raws == [pushed]


class SlowRecorder(Recorder):
    """Takes its time over the first mail, as the mail worker does over a hostile one."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, mail: FetchedMail) -> None:
        if not self.mails:
            self.busy.set()
            await self.release.wait()
        await super().__call__(mail)


async def test_a_mail_that_arrives_during_a_slow_sweep_is_read_right_after_it(
    dovecot: Dovecot, mailbox: str
) -> None:
    """The server announces it with its answer to the sweep's next command, not to the IDLE
    that follows: without another sweep it would wait for the next periodic one (5 minutes)."""
    config = imap_config(dovecot, mailbox, idle_seconds=300.0, sweep_seconds=300.0)
    slow, next_one, meanwhile = mail("Slow to read"), mail("Next"), mail("Arrived meanwhile")
    for raw in (slow, next_one):
        await dovecot.append(BOT, raw, mailbox)
    store, inbox = MemoryWatermarks(), SlowRecorder()

    async with ingest_of(config, store) as ingest, running(ingest, inbox):
        await asyncio.wait_for(inbox.busy.wait(), WAIT)
        await dovecot.append(BOT, meanwhile, mailbox)
        inbox.release.set()
        await eventually(lambda: len(inbox.mails) == 3, what="the three mails")

    assert inbox.raws == [slow, next_one, meanwhile]


async def test_a_mail_over_max_bytes_is_handed_over_without_its_bytes(
    dovecot: Dovecot, mailbox: str
) -> None:
    big, small = mail("Huge", b"x" * 5000 + b"\r\n"), mail("Small")
    big_uid = await dovecot.append(BOT, big, mailbox)
    small_uid = await dovecot.append(BOT, small, mailbox)
    store, inbox = MemoryWatermarks(), Recorder()

    async with ingest_of(imap_config(dovecot, mailbox, max_bytes=2000), store) as ingest:
        assert await ingest.sweep_once(inbox) == 2

    assert [(m.uid, m.raw, m.size) for m in inbox.mails] == [
        (big_uid, b"", len(big)),
        (small_uid, small, len(small)),
    ]
    assert store.value is not None and store.value[1] == small_uid


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_is_verified_against_the_configured_ca(
    dovecot: Dovecot, mailbox: str, security: str
) -> None:
    secret = mail("Over TLS")
    await dovecot.append(BOT, secret, mailbox)
    port = dovecot.tls_port if security == "tls" else dovecot.port
    trusting = imap_config(dovecot, mailbox, security=security, port=port, ca_file=dovecot.ca_file)
    inbox = Recorder()
    async with ingest_of(trusting, MemoryWatermarks()) as ingest:
        assert await ingest.sweep_once(inbox) == 1
    assert inbox.raws == [secret]

    store, untrusting = MemoryWatermarks(), replace(trusting, ca_file=None)
    async with ingest_of(untrusting, store) as ingest:
        with pytest.raises(ssl.SSLCertVerificationError):
            await ingest.sweep_once(inbox)
    assert (len(inbox.mails), store.value) == (1, None)


def test_plain_imap_to_a_non_loopback_host_is_refused_before_any_connection() -> None:
    # 192.0.2.1 is TEST-NET-1: refused while building the settings, so nothing can connect.
    with pytest.raises(ImapConfigError, match="loopback"):
        ImapConfig(host="192.0.2.1", port=143, user=BOT, password="x", security="none")
    with pytest.raises(ImapConfigError, match="loopback"):
        ImapConfig(host="mail.example.com", port=143, user=BOT, password="x", security="none")


class ByeOnFirstIdle:
    """A scripted IMAP server with an empty mailbox whose first IDLE is answered `* BYE` while
    the connection stays open: aioimaplib's `idle_start` then never returns (issue #110)."""

    def __init__(self) -> None:
        self.connections = 0
        self.open = 0
        self.idles = 0
        self.searches = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        writer.write(b"* OK fake IMAP ready\r\n")
        idle_tag = ""
        try:
            while words := (await reader.readline()).decode().split():
                if words[0] == "DONE":
                    writer.write(f"{idle_tag} OK IDLE done\r\n".encode())
                    continue
                idle_tag = words[0] if words[1].upper() == "IDLE" else idle_tag
                writer.write(self.answer(words[0], words[1].upper()).encode())
        finally:
            self.open -= 1
            writer.close()

    def answer(self, tag: str, command: str) -> str:
        if command == "IDLE":
            self.idles += 1
            return "* BYE going away\r\n" if self.idles == 1 else "+ idling\r\n"
        self.searches += command == "UID"
        untagged = {
            "CAPABILITY": "* CAPABILITY IMAP4rev1 IDLE\r\n",
            "SELECT": "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n",
            "UID": "* SEARCH\r\n",
            "LOGOUT": "* BYE logging out\r\n",
        }
        return untagged.get(command, "") + f"{tag} OK done\r\n"


async def test_idle_answered_with_bye_is_bounded_and_the_ingest_reconnects() -> None:
    fake = ByeOnFirstIdle()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = ImapConfig(
        host="127.0.0.1",
        port=port,
        user=BOT,
        password="x",
        security="none",
        command_timeout=1.0,
        backoff_seconds=0.1,
        idle_seconds=300.0,
        sweep_seconds=300.0,
    )
    store = MemoryWatermarks()
    try:
        async with ingest_of(config, store) as ingest, running(ingest, Recorder()):
            await eventually(lambda: fake.idles == 2, what="IDLE on a new connection", timeout=WAIT)
        await eventually(
            lambda: fake.open == 0, what="the ingest logging out and closing", timeout=WAIT
        )
    finally:
        server.close()

    assert (fake.connections, fake.searches) == (2, 2)  # a new connection, and a sweep on it
    assert store.value == (7, 0, 0)
