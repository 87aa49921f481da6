"""Mails per second from IMAP fetch to committed turn, against fetching alone.

    python -m bench.email [--mails N] [--senders M]

Starts a private Dovecot on 127.0.0.1 (tests/services/dovecot.py: needs root and
dovecot-imapd), appends N customer mails to bot@example.com's INBOX (M senders, four kinds of
mail each answered with one reply: a damaged order, a quote request with a signature, a
question, an invoice request), then reads the same N mails from the same mailbox four ways:

- baseline: aioimaplib alone — LOGIN, SELECT, `UID SEARCH`, then `UID FETCH (BODY.PEEK[])` in
  batches of 100: the floor for getting the bytes out of this server with this client;
- floor: the same fetch, each mail parsed by the standard library
  (`BytesParser(policy=default)`, its plain text read) and stored by one transaction that
  inserts the inbound message (bench/dispatcher.py's baseline, on the same SQLite engine and
  connection as the dispatcher): the least a mail bot that loses no mail must do;
- ImapIngest with a `handle` that does nothing: our ingest's own cost (sizes first, one body at
  a time, the watermark after every mail), in memory;
- Touchpoint, replies left in the outbox: the email channel as `touchpoint run` builds it
  (`bot.bootstrap.email_channel`, its watermark in the database) handing every mail to the real
  dispatcher on SQLite — parsing, the filter chain, threading, routing, the handler, the turn
  committed with its reply queued — and no relay; the clock stops when the last turn commits;
- Touchpoint, replies delivered: `touchpoint run`'s whole composition
  (`bot.bootstrap.open_app`) with the relay sending every reply to a local aiosmtpd (one SMTP
  connection per reply, the
  server in this process: it competes for the same CPU); two clocks: when the last turn
  committed, and when the SMTP server accepted the last reply.

Every figure is N over the seconds from connecting to done; the ratio is against the baseline.
The mailbox is never changed by any reader (PEEK, no flags), so all of them read the same mails.
The floor and "fetch to committed turn" then run in turn, R rounds (`--runs`, 3 by default),
each on a database of its own: median (min–max), and their ratio taken per round.

Then reading alone, without IMAP or a database: the same N mails turned into messages by
`to_inbound` in this process, and by the email channel's `MailReader` in its worker process
(the mail's bytes sent, the message sent back): the price of the worker's round trip. The two
take turns three times and each keeps its best time, so that a busy machine weighs on both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aioimaplib
from sqlalchemy import func, select

from bench.floor import bare_insert
from bench.rounds import Spread, add_runs_argument, interleave_async, ratios
from bot import words
from bot.bootstrap import build_channels, build_services, email_channel, open_app
from bot.dispatch import Dispatcher
from bot.model import AcceptResult, Address, InboundMessage, Outcome, Sender, utc_now
from bot.settings import Settings
from channels.email.imap import ImapConfig, ImapIngest
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail
from channels.email.reader import MailReader, ReadingConfig
from storage.tables import messages, outbox
from storage.uow import Database
from tests.services.dovecot import Dovecot, DovecotUnavailable
from tests.services.smtp import SmtpServer

BOT = "bot@example.com"
EMAIL_FROM = "Example Sales <bot@example.com>"
BATCH = 100  # aioimaplib parses a response recursively: larger FETCH answers overflow the stack
WAIT_SECONDS = 600.0
KINDS = (
    ("Broken chairs", "My order {order} arrived damaged, two chairs have broken armrests."),
    (
        "Standing desks",
        "Hello,\n\nwe would like a quote for 40 standing desks for our new office.\n\n"
        "Best regards,\n{name}\nNorthwind GmbH\n+49 30 901820",
    ),
    ("Question", "what can you do?"),
    ("Invoice", "Please send the invoice for order {order} again."),
)


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    mails: int
    seconds: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.mails / self.seconds

    def line(self, baseline: Figures) -> str:
        ratio = self.per_second / baseline.per_second
        line = f"{self.name:<48} {self.per_second:>8.1f} mails/s {self.seconds:7.2f} s"
        return line + f"  ratio {ratio:5.3f}" + (f"  ({self.note})" if self.note else "")


# --- the mailbox -----------------------------------------------------------------------------


def customer_mails(count: int, senders: int) -> Iterator[bytes]:
    """`count` plain-text mails, senders taking turns, each with its own Message-ID."""
    for number in range(count):
        sender = number % senders + 1
        subject, body = KINDS[number // senders % len(KINDS)]
        name = f"Buyer Number{sender}"
        text = body.format(order=5000 + number, name=name)
        head = (
            f"From: {name} <buyer{sender}@shop{sender}.example>\r\nTo: {EMAIL_FROM}\r\n"
            f"Subject: {subject} {number}\r\nDate: {format_datetime(utc_now())}\r\n"
            f"Message-ID: {make_msgid(domain='shop.example')}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        )
        yield (head + "\r\n" + text.replace("\n", "\r\n") + "\r\n").encode()


async def fill_inbox(server: Dovecot, mails: int, senders: int) -> int:
    """Append the mails over one connection; returns their total size in bytes."""
    size = 0
    async with server.imap(BOT) as client:
        for raw in customer_mails(mails, senders):
            response = await client.append(raw, mailbox="INBOX")
            if response.result != "OK":
                raise RuntimeError(f"APPEND failed: {response.lines}")
            size += len(raw)
    return size


async def until(condition: Callable[[], bool | Awaitable[bool]], poll: float = 0.005) -> float:
    """Wait for `condition`; returns the `perf_counter` reading when it was first seen true."""
    deadline = time.perf_counter() + WAIT_SECONDS
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not done within {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(poll)


# --- baselines: fetching only ----------------------------------------------------------------


async def bench_fetch_only(server: Dovecot, mails: int) -> Figures:
    started = time.perf_counter()
    bodies = 0
    async for batch in fetched_batches(server):
        bodies += len(batch)
    done = time.perf_counter()
    check_count("aioimaplib fetched", bodies, mails)
    return Figures("baseline: aioimaplib UID FETCH BODY.PEEK[] x100", mails, done - started)


async def fetched_batches(server: Dovecot) -> AsyncIterator[list[bytes]]:
    """Every mail of the INBOX, fetched in batches of `BATCH` over one aioimaplib connection."""
    client = aioimaplib.IMAP4(host=server.host, port=server.port, timeout=60)
    try:
        await client.wait_hello_from_server()
        await checked(client.login(f'"{BOT}"', server.users[BOT]))
        await checked(client.select('"INBOX"'))
        found = await checked(client.uid_search("UID", "1:*", charset=None))
        uids = [int(word) for line in found[:-1] for word in bytes(line).split() if word.isdigit()]
        for first in range(0, len(uids), BATCH):
            batch = uids[first : first + BATCH]
            lines = await checked(client.uid("fetch", f"{batch[0]}:{batch[-1]}", "(BODY.PEEK[])"))
            yield [bytes(line) for line in lines if isinstance(line, bytearray)]
    finally:
        await client.logout()


async def bench_floor(server: Dovecot, folder: Path, mails: int, round_number: int) -> Figures:
    """Fetch, parse with the standard library, insert each mail in a transaction of its own."""
    database = Database.from_url(f"sqlite+aiosqlite:///{folder / f'floor-{round_number}.db'}")
    try:
        await database.upgrade()  # a deployment step: not timed
        started = time.perf_counter()
        stored = 0
        async for batch in fetched_batches(server):
            for raw in batch:
                await bare_insert(database, parsed(raw))
                stored += 1
        done = time.perf_counter()
    finally:
        await database.dispose()
    check_count("mails stored", stored, mails)
    return Figures("floor: fetch + stdlib parse + insert", mails, done - started)


def parsed(raw: bytes) -> InboundMessage:
    """A mail as the standard library reads it: its sender, Message-ID and plain text."""
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    body = mail.get_body(("plain",))
    text = str(body.get_content()) if isinstance(body, EmailMessage) else ""
    sender = str(mail["From"].addresses[0].addr_spec)
    return InboundMessage(
        external_id=str(mail["Message-ID"]),
        address=Address("email", sender),
        sender=Sender(external_id=sender, display_name=str(mail["From"].addresses[0].display_name)),
        text=text,
        raw=raw,
    )


async def checked(command: Awaitable[Any]) -> list[Any]:
    response = await command
    if response.result != "OK":
        raise RuntimeError(f"IMAP refused: {response.result} {response.lines}")
    return list(response.lines)


class MemoryWatermarks:
    def __init__(self) -> None:
        self.value: tuple[int, int, int] | None = None

    async def load(self) -> tuple[int, int, int] | None:
        return self.value

    async def save(self, uidvalidity: int, last_uid: int, catch_up_to: int = 0) -> None:
        self.value = (uidvalidity, last_uid, catch_up_to)


async def bench_ingest_only(server: Dovecot, mails: int) -> Figures:
    async def ignore(_mail: FetchedMail) -> None:
        return None

    config = ImapConfig(
        host=server.host, port=server.port, user=BOT, password=server.users[BOT], security="none"
    )
    ingest = ImapIngest(config, MemoryWatermarks())
    started = time.perf_counter()
    try:
        handed = await ingest.sweep_once(ignore)
        done = time.perf_counter()
    finally:
        await ingest.close()
    check_count("ImapIngest handed over", handed, mails)
    return Figures("ImapIngest, handle does nothing", mails, done - started)


# --- Touchpoint ------------------------------------------------------------------------------


def settings_for(server: Dovecot, database: Path, smtp_port: int = 25) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{database}",
        imap_host=server.host,
        imap_port=server.port,
        imap_user=BOT,
        imap_password=server.users[BOT],
        imap_security="none",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        email_from=EMAIL_FROM,
        relay_poll_seconds=0.05,
    )


class Counting:
    """The dispatcher's `accept`, counting committed turns; `done` is set at `expected`."""

    def __init__(self, dispatcher: Dispatcher, expected: int) -> None:
        self._dispatcher = dispatcher
        self._expected = expected
        self.outcomes: dict[Outcome, int] = {}
        self.done = asyncio.Event()

    async def accept(self, message: InboundMessage) -> AcceptResult:
        result = await self._dispatcher.accept(message)
        self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1
        if sum(self.outcomes.values()) >= self._expected:
            self.done.set()
        return result


async def bench_to_outbox(server: Dovecot, folder: Path, mails: int, round_number: int) -> Figures:
    settings = settings_for(server, folder / f"outbox-{round_number}.db")
    database = Database.from_url(settings.database_url.get_secret_value())
    try:
        await database.upgrade()  # a deployment step: not timed
        channel = email_channel(settings, database)
        words.warm_up()  # as `touchpoint run` does before its first turn
        counting = Counting(Dispatcher(database, build_services(settings)), mails)
        started = time.perf_counter()
        reading = asyncio.create_task(channel.run(counting.accept))
        await asyncio.wait_for(counting.done.wait(), WAIT_SECONDS)
        done = time.perf_counter()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await channel.close()
        queued = await count_outbox(database)
    finally:
        await database.dispose()
    check_count("mails handled", counting.outcomes.get(Outcome.HANDLED, 0), mails)
    check_count("replies queued", queued, mails)
    return Figures("Touchpoint: fetch to committed turn", mails, done - started, "replies queued")


async def count_outbox(database: Database) -> int:
    async with database.transaction() as uow:
        query = select(func.count()).select_from(outbox)
        return int((await uow.connection.execute(query)).scalar_one())


async def bench_delivered(server: Dovecot, folder: Path, mails: int) -> tuple[Figures, Figures]:
    with SmtpServer() as smtp:
        settings = settings_for(server, folder / "delivered.db", smtp.port)
        async with open_app(settings, lambda db, _: build_channels(settings, db)) as app:
            started = time.perf_counter()
            serving = asyncio.create_task(app.serve(), name="touchpoint")
            try:
                committed = await until(lambda: all_committed(app.database, mails), poll=0.05)
                delivered = await until(lambda: len(smtp.envelopes) >= mails)
            finally:
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
        check_count("replies delivered", len(smtp.envelopes), mails)
    return (
        Figures("touchpoint run: fetch to committed turn", mails, committed - started, "relay on"),
        Figures("touchpoint run: fetch to reply accepted by SMTP", mails, delivered - started),
    )


async def all_committed(database: Database, mails: int) -> bool:
    async with database.transaction() as uow:
        query = select(func.count()).where(messages.c.direction == "in")
        return int((await uow.connection.execute(query)).scalar_one()) >= mails


# --- reading alone: in this process, or in the mail worker ---------------------------------------

OURS = Ours(frozenset({BOT}), "bench-loop-token", frozenset({"example.com"}))
ROUNDS = 3


async def bench_reading(mails: int, senders: int) -> tuple[Figures, Figures]:
    fetched = [FetchedMail(1, uid, raw) for uid, raw in enumerate(customer_mails(mails, senders))]
    reader = MailReader(OURS, ReadingConfig())
    await reader.start()  # a deployment step: not timed
    here, there = [], []
    try:
        for _ in range(ROUNDS):
            here.append(read_here(fetched))
            there.append(await read_there(reader, fetched))
    finally:
        await reader.close()
    return (
        Figures("to_inbound in this process", mails, min(here)),
        Figures("MailReader: one worker process, round trip", mails, min(there)),
    )


def read_here(fetched: list[FetchedMail]) -> float:
    started = time.perf_counter()
    for mail in fetched:
        to_inbound(mail, OURS)
    return time.perf_counter() - started


async def read_there(reader: MailReader, fetched: list[FetchedMail]) -> float:
    started = time.perf_counter()
    for mail in fetched:
        await reader.read(mail)
    return time.perf_counter() - started


def check_count(what: str, found: int, expected: int) -> None:
    """The figures compare the same work, or they mean nothing."""
    if found != expected:
        raise RuntimeError(f"{what}: {found}, expected {expected}")


# --- the run ---------------------------------------------------------------------------------


def median_run(runs: list[Figures]) -> Figures:
    """The run of median speed (of an odd number; the faster middle one of an even)."""
    return sorted(runs, key=lambda figures: figures.seconds)[(len(runs) - 1) // 2]


def print_against_floor(floors: list[Figures], outboxes: list[Figures]) -> None:
    floor = [figures.per_second for figures in floors]
    ours = [figures.per_second for figures in outboxes]
    print(f"\nagainst the floor, {len(floors)} interleaved rounds, median (min–max):")
    print(f"  floor: fetch + stdlib parse + insert  {Spread.of(floor).format('.1f')} mails/s")
    print(f"  Touchpoint: fetch to committed turn   {Spread.of(ours).format('.1f')} mails/s")
    print(f"  ratio                                 {ratios(ours, floor).format('.3f')}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--senders", type=int, default=50)
    add_runs_argument(parser)
    args = parser.parse_args()
    try:
        server = Dovecot.start()
    except DovecotUnavailable as reason:
        raise SystemExit(f"bench.email needs a private Dovecot: {reason}") from None
    try:
        size = await fill_inbox(server, args.mails, args.senders)
        print(
            f"{args.mails} mails from {args.senders} senders in a private Dovecot on 127.0.0.1 "
            f"(average {size / args.mails / 1024:.1f} KiB); SQLite; {os.cpu_count()} CPUs\n"
        )
        baseline = await bench_fetch_only(server, args.mails)
        ingest = await bench_ingest_only(server, args.mails)
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            floors, outboxes = await interleave_async(
                args.runs,
                [
                    lambda n: bench_floor(server, folder, args.mails, n),
                    lambda n: bench_to_outbox(server, folder, args.mails, n),
                ],
            )
            committed, delivered = await bench_delivered(server, folder, args.mails)
    finally:
        server.stop()
    here, there = await bench_reading(args.mails, args.senders)
    floor, outbox = median_run(floors), median_run(outboxes)
    for figures in (baseline, ingest, floor, outbox, committed, delivered):
        print(figures.line(baseline))
    print_against_floor(floors, outboxes)
    print("\nreading alone, no IMAP, no database (best of 3 turns each):")
    for figures in (here, there):
        print(figures.line(here))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
