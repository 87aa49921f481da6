"""The email channel in the test's process, against a real Dovecot and a real SMTP server.

A customer's mail is appended to bot@example.com's INBOX (as a mail server would deliver it);
the real `EmailChannel` reads it over IMAP, the real dispatcher commits the turn on SQLite or
PostgreSQL, and the real relay answers it through aiosmtpd on 127.0.0.1, which records every
command and the exact DATA. Nothing is faked and everything runs on the real clock, so every
wait is a generous bound, never a timing assertion.

    async with EmailBot(database, dovecot, smtp_server) as bot:
        sent = await kim.writes("Broken chairs", "My order 5531 arrived damaged ...")
        [answer] = await kim.receives(1)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from types import TracebackType

import pytest
from sqlalchemy import select

from bot.bootstrap import build_services
from bot.cursors import DatabaseWatermarks, StoredInbound
from bot.dispatch import Dispatcher
from bot.model import utc_now
from bot.records import Lead, Ticket, TouchpointRow
from bot.relay import Relay, RelayPolicy
from bot.settings import Settings
from channels.email.adapter import EmailChannel, EmailConfig
from channels.email.compose import LOOP_HEADER
from channels.email.imap import ImapConfig
from channels.email.inbound import Ours
from channels.email.smtp import SmtpConfig
from storage.tables import identities, messages, outbox
from storage.uow import Database
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import Envelope, SmtpServer
from tests.waiting import eventually

smtp_server = smtp_service.smtp_server  # the fixture, made visible to this module

BOT = "bot@example.com"
EMAIL_FROM = "Example Sales <bot@example.com>"
LOOP_TOKEN = "touchpoint-integration"
MESSAGE_IDS = "tp.example.com"  # our Message-IDs, as bot/bootstrap.py mints them
WATERMARK_KEY = f"{BOT}@127.0.0.1/INBOX"
REPLY_HEADERS = [
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "X-Auto-Response-Suppress", LOOP_HEADER, "MIME-Version", "Content-Type",
    "Content-Language",
]  # fmt: skip
DAMAGED = "My order 5531 arrived damaged, two chairs have broken armrests."
TICKET_OPENED = (
    "Your request #1001 is open. Our team will look into it and I'll follow up within 24 hours. "
    'Ask "status #1001" any time.'
)
DESKS_SIGNED = (
    "Hello,\n\nwe would like a quote for 40 standing desks for our new office in Berlin.\n\n"
    "Best regards,\nAnna Petrova\nNorthwind GmbH\n+49 30 901820\n"
)
LEAD_FORM = (
    "Thank you for your interest! To prepare an offer, please reply to this email with:\n"
    "1. Your name\n2. Your company (if any)\n3. Budget (optional)\n4. When you need it (optional)\n"
    'A few words on each line are enough, for example "Name: Anna Petrova".'
)


# --- the bot, in this process ----------------------------------------------------------------


def settings() -> Settings:
    """What `touchpoint run` would be given (the services take the Message-ID domain from it)."""
    return Settings(
        _env_file=None,
        imap_host="127.0.0.1",
        imap_user=BOT,
        imap_password="not-used-here",
        imap_security="none",
        smtp_host="127.0.0.1",
        smtp_security="none",
        email_from=EMAIL_FROM,
    )


def email_config(dovecot: Dovecot, smtp: SmtpServer) -> EmailConfig:
    imap = ImapConfig(
        host=dovecot.host,
        port=dovecot.port,
        user=BOT,
        password=dovecot.users[BOT],
        security="none",
        command_timeout=10.0,
        sweep_seconds=5.0,  # IDLE brings new mail at once; the sweep is the safety net
        backoff_seconds=0.2,
        max_backoff_seconds=1.0,
    )
    smtp_config = SmtpConfig(
        host=smtp.host,
        port=smtp.port,
        user=None,
        password=None,
        security="none",
        timeout=10.0,
        helo_name="localhost",
    )
    ours = Ours(frozenset({BOT}), LOOP_TOKEN, frozenset({MESSAGE_IDS}), reply_base=BOT)
    return EmailConfig(imap, smtp_config, EMAIL_FROM, ours, message_id_domain=MESSAGE_IDS)


class EmailBot:
    """One bot process: the email channel, the dispatcher and the relay on `database`.

    Leaving the block stops it as `touchpoint run` stops on SIGTERM: the channel stops
    reading, the relay settles the reply in hand. A new `EmailBot` on the same database is a
    restart: nothing is carried over but what the database holds.
    """

    def __init__(self, database: Database, dovecot: Dovecot, smtp: SmtpServer) -> None:
        self.database = database
        self.watermarks = DatabaseWatermarks(database, WATERMARK_KEY)
        stored = StoredInbound(database)
        self.channel = EmailChannel(email_config(dovecot, smtp), self.watermarks, stored)
        # Small delays, so a retried reply goes out again within the test.
        policy = RelayPolicy(poll_seconds=0.05, base_delay=0.1, max_delay=0.5)
        self.relay = Relay(database, {"email": self.channel}, policy=policy)
        self.dispatcher = Dispatcher(
            database, build_services(settings()), on_commit=self.relay.wake
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> EmailBot:
        self._tasks = [
            asyncio.create_task(self.channel.run(self.dispatcher.accept), name="email"),
            asyncio.create_task(self.relay.run(), name="relay"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._tasks[0].cancel()  # the channel; the relay is asked to stop instead
        self.relay.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.channel.close()
        if exc is None:
            assert self.crashed() is None

    def crashed(self) -> BaseException | None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def taken(self, uid: int) -> None:
        """Until the mail with `uid` is committed (the watermark moves only after that)."""

        async def past() -> bool:
            stored = await self.watermarks.load()
            return stored is not None and stored[1] >= uid

        await eventually(past, what=f"the watermark passing UID {uid}")


# --- customers writing mail ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """A mail a customer wrote: its Message-ID, and the UID it got in the bot's INBOX."""

    message_id: str
    uid: int
    raw: bytes


@dataclass
class MailCustomer:
    """A person with a mail client: writes to the bot, reads what the SMTP server received."""

    dovecot: Dovecot
    smtp: SmtpServer
    address: str
    name: str = ""
    heard: int = 0
    written: list[Sent] = field(default_factory=list)

    async def writes(
        self,
        subject: str,
        body: str,
        *,
        replying_to: EmailMessage | None = None,
        headers: Sequence[tuple[str, str]] = (),
        message_id: str | None = None,
    ) -> Sent:
        """A plain-text mail; `replying_to` threads it under one of the bot's answers and, as
        a mail client does, sends it to that mail's Reply-To when it has one."""
        message_id = message_id or make_msgid(domain="customer.example")
        thread: list[tuple[str, str]] = []
        if replying_to is not None:
            ours = str(replying_to["Message-ID"])
            chain = f"{replying_to['References']} {ours}".split()
            thread = [("In-Reply-To", ours), ("References", " ".join(chain))]
        sender = f"{self.name} <{self.address}>" if self.name else self.address
        head = [
            ("From", sender),
            ("To", str(replying_to["Reply-To"] or EMAIL_FROM) if replying_to else EMAIL_FROM),
            ("Subject", subject),
            ("Date", format_datetime(utc_now())),
            ("Message-ID", message_id),
            *thread,
            *headers,
        ]
        return await self.sends(mail_bytes(head, body), message_id)

    async def sends(self, raw: bytes, message_id: str) -> Sent:
        """Exactly these bytes, delivered into the bot's INBOX."""
        sent = Sent(message_id, await self.dovecot.append(BOT, raw), raw)
        self.written.append(sent)
        return sent

    async def receives(self, count: int) -> list[EmailMessage]:
        """The bot's next `count` mails to this customer (waiting for them)."""
        wanted = self.heard + count
        await eventually(
            lambda: len(self.envelopes()) >= wanted, what=f"{wanted} mails to {self.address}"
        )
        new = self.envelopes()[self.heard : wanted]
        self.heard = wanted
        return [envelope.parsed() for envelope in new]

    def envelopes(self) -> list[Envelope]:
        return [e for e in self.smtp.envelopes if self.address in e.rcpt_tos]


def mail_bytes(head: Sequence[tuple[str, str]], body: str) -> bytes:
    lines = [f"{name}: {value}" for name, value in head]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    lines += ["Content-Transfer-Encoding: 8bit", ""]
    text = "\r\n".join(lines) + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode() + b"\r\n"


def plain_text(answer: EmailMessage) -> str:
    part = answer.get_body(("plain",))
    assert part is not None, "an answer without a text/plain part"
    return str(part.get_content()).strip("\n")


def html_text(answer: EmailMessage) -> str:
    part = answer.get_body(("html",))
    assert part is not None, "an answer without a text/html part"
    return str(part.get_content())


def quoting(answer: EmailMessage, reply: str) -> str:
    """What a mail client writes: the reply, then the bot's text quoted under an attribution."""
    quoted = "\n".join(f"> {line}" for line in plain_text(answer).splitlines())
    return f"{reply}\n\nOn {answer['Date']}, Example Sales <{BOT}> wrote:\n{quoted}\n"


# --- what the database holds -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    address: str
    message_id: str | None
    in_reply_to: str | None
    status: str
    attempts: int
    last_error: str | None


async def outbox_entries(database: Database) -> list[OutboxEntry]:
    query = select(
        outbox.c.address,
        outbox.c.header_id,
        outbox.c.in_reply_to,
        outbox.c.status,
        outbox.c.attempts,
        outbox.c.last_error,
    ).order_by(outbox.c.id)
    async with database.transaction() as uow:
        return [OutboxEntry(*row) for row in await uow.connection.execute(query)]


async def rows_settled(database: Database) -> bool:
    return all(row.status in ("sent", "failed") for row in await outbox_entries(database))


async def settled(database: Database) -> None:
    """Until every queued answer is marked sent or failed (the SMTP server has it before)."""
    await eventually(lambda: rows_settled(database), what="every outbox row settled")


async def inbound_keys(database: Database) -> list[str]:
    query = select(messages.c.external_id).where(messages.c.direction == "in")
    async with database.transaction() as uow:
        return [row[0] for row in await uow.connection.execute(query.order_by(messages.c.id))]


async def stored_at_least(database: Database, count: int) -> bool:
    return len(await inbound_keys(database)) >= count


async def kinds(database: Database) -> list[str]:
    async with database.transaction() as uow:
        return [row.kind for row in await uow.touchpoints.search(limit=10_000)]


async def touchpoints_of(database: Database, kind: str) -> list[TouchpointRow]:
    async with database.transaction() as uow:
        return list(await uow.touchpoints.search(kind=kind, limit=10_000))


async def reachable(database: Database, address: str) -> tuple[bool, str | None]:
    query = select(identities.c.reachable, identities.c.unreachable_reason).where(
        identities.c.channel == "email", identities.c.address == address
    )
    async with database.transaction() as uow:
        [row] = list(await uow.connection.execute(query))
    return bool(row[0]), row[1]


async def tickets(database: Database) -> list[tuple[Ticket, list[str]]]:
    async with database.transaction() as uow:
        found = await uow.tickets.search()
        return [(t, [text for _, text, _ in await uow.tickets.notes(t.id)]) for t in found]


async def leads(database: Database) -> list[Lead]:
    async with database.transaction() as uow:
        return await uow.leads.search()


async def conversation_ids(database: Database, address: str) -> set[int]:
    async with database.transaction() as uow:
        since = utc_now().replace(year=2000)
        return {n for n, _ in await uow.conversations.recent_subjects("email", address, since)}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def inbox(dovecot: Dovecot) -> Dovecot:
    """The bot's INBOX, emptied, with a UIDVALIDITY of its own for this test."""
    await dovecot.reset_mailbox(BOT)
    return dovecot


@pytest.fixture
async def bot(
    database: Database, inbox: Dovecot, smtp_server: SmtpServer
) -> AsyncIterator[EmailBot]:
    async with EmailBot(database, inbox, smtp_server) as running:
        yield running


def customer(inbox: Dovecot, smtp_server: SmtpServer, address: str, name: str = "") -> MailCustomer:
    return MailCustomer(inbox, smtp_server, address, name)


# --- answered, with headers that thread ------------------------------------------------------


def assert_answers(answer: EmailMessage, mail: Sent, *, subject: str, chain: list[str]) -> None:
    """`answer` is our reply to `mail`: from us, threaded under it, marked automatic."""
    assert answer.keys() == REPLY_HEADERS
    assert answer["From"] == EMAIL_FROM
    assert answer["Subject"] == subject
    assert answer["In-Reply-To"] == mail.message_id
    assert str(answer["References"]).split() == [*chain, mail.message_id]
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer[LOOP_HEADER] == LOOP_TOKEN
    assert answer.get_content_type() == "multipart/alternative"
    assert re.fullmatch(r"<[0-9a-f]{32}@tp\.example\.com>", str(answer["Message-ID"]))


async def test_a_service_mail_is_answered_in_its_thread_and_the_reply_joins_the_ticket(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example", "Kim Lee")

    first = await kim.writes("Broken chairs", DAMAGED)
    [opened] = await kim.receives(1)

    assert_answers(opened, first, subject="Re: [#1001] Broken chairs", chain=[])
    assert opened["To"] == "kim@initech.example"
    assert plain_text(opened) == TICKET_OPENED
    assert "<p>Your request #1001 is open." in html_text(opened)
    [envelope] = smtp_server.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == (BOT, ("kim@initech.example",))
    assert smtp_server.commands("RCPT") == ["RCPT TO:<kim@initech.example>"]
    await settled(bot.database)
    [row] = await outbox_entries(bot.database)
    assert (row.status, row.message_id, row.in_reply_to) == (
        "sent",
        opened["Message-ID"],
        first.message_id,
    )

    second = await kim.writes(
        "Re: [#1001] Broken chairs",
        quoting(opened, "Thanks. Also, the box was wet when it arrived."),
        replying_to=opened,
    )
    [added] = await kim.receives(1)

    assert_answers(
        added,
        second,
        subject="Re: [#1001] Broken chairs",  # not "Re: Re: ..."
        chain=[first.message_id, opened["Message-ID"]],
    )
    assert plain_text(added) == "Added to your request #1001."
    [(ticket, notes)] = await tickets(bot.database)
    assert (ticket.number, ticket.status) == (1001, "open")
    assert notes == [DAMAGED, "Thanks. Also, the box was wet when it arrived."]
    assert len(await conversation_ids(bot.database, "kim@initech.example")) == 1
    await settled(bot.database)
    assert [r.status for r in await outbox_entries(bot.database)] == ["sent", "sent"]
    assert len(smtp_server.commands("RCPT")) == 2


async def test_a_lead_in_one_mail_when_the_signature_says_who_writes(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    anna = customer(inbox, smtp_server, "anna@northwind.example", "Anna Petrova")

    desks = await anna.writes("Standing desks", DESKS_SIGNED)
    [saved] = await anna.receives(1)

    assert_answers(saved, desks, subject="Re: Standing desks", chain=[])
    assert plain_text(saved) == (
        "Thank you, Anna Petrova! Your request is saved. Nobody from our sales team is "
        "available right now, so it may take a while, but they will get back to you. "
        "Here is what we noted:\n"
        "Need: we would like a quote for 40 standing desks for our new office in "
        "Berlin.\nName: Anna Petrova\nCompany: Northwind GmbH\nEmail: anna@northwind.example\n"
        "Phone: +4930901820\nIf anything is wrong, just reply to this email."
    )
    [lead] = await leads(bot.database)
    assert (lead.status, lead.name, lead.company, lead.phone, lead.email) == (
        "waiting",
        "Anna Petrova",
        "Northwind GmbH",
        "+4930901820",
        "anna@northwind.example",
    )
    await settled(bot.database)
    assert await kinds(bot.database) == [
        "message_in",
        "lead_captured",
        "lead_waiting",  # no rep is registered
        "message_out",
        "delivered",
    ]


@pytest.mark.parametrize(
    "answers",
    [
        "1. Ivan Petrov\n2. Bean Co\n4. next month",
        "Name: Ivan Petrov\nCompany: Bean Co\nWhen: next month",
    ],
    ids=["numbered", "labelled"],
)
async def test_missing_lead_answers_are_asked_together_and_read_from_one_reply(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer, answers: str
) -> None:
    ivan = customer(inbox, smtp_server, "ivan@bean.example")

    asked = await ivan.writes(
        "Coffee machines", "Please send me a price for 10 coffee machines for our offices."
    )
    [form] = await ivan.receives(1)
    assert_answers(form, asked, subject="Re: Coffee machines", chain=[])
    assert plain_text(form) == LEAD_FORM
    assert await leads(bot.database) == []

    answered = await ivan.writes("Re: Coffee machines", quoting(form, answers), replying_to=form)
    [saved] = await ivan.receives(1)

    assert_answers(
        saved,
        answered,
        subject="Re: Coffee machines",
        chain=[asked.message_id, form["Message-ID"]],
    )
    assert plain_text(saved).startswith("Thank you, Ivan Petrov!")
    [lead] = await leads(bot.database)
    assert (lead.name, lead.company, lead.timeline, lead.budget, lead.email) == (
        "Ivan Petrov",
        "Bean Co",
        "next month",
        None,
        "ivan@bean.example",
    )
    assert lead.need == "Please send me a price for 10 coffee machines for our offices."
    assert len(await conversation_ids(bot.database, "ivan@bean.example")) == 1


# --- the mailbox: read elsewhere, restarts, a rebuilt mailbox, a dropped connection ----------


async def test_a_mail_read_in_webmail_before_the_bot_runs_is_still_answered(
    database: Database, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example")
    read = await kim.writes("Broken chairs", DAMAGED)
    await inbox.set_seen(BOT, read.uid)  # someone opened it in webmail first

    async with EmailBot(database, inbox, smtp_server):
        [answer] = await kim.receives(1)

    assert answer["In-Reply-To"] == read.message_id
    assert await inbound_keys(database) == [read.message_id]
    assert await inbox.flags(BOT, read.uid) == {"\\Seen"}  # the bot changed no flag


async def test_a_restarted_bot_answers_new_mail_and_nothing_twice(
    database: Database, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example")
    async with EmailBot(database, inbox, smtp_server) as first:
        before = await kim.writes("Broken chairs", DAMAGED)
        await kim.receives(1)
        await first.taken(before.uid)
    watermark = await DatabaseWatermarks(database, WATERMARK_KEY).load()
    assert watermark is not None and watermark[1] == before.uid

    async with EmailBot(database, inbox, smtp_server) as restarted:
        after = await kim.writes("Invoice", "Please send the invoice for order 5531 again.")
        [answer] = await kim.receives(1)
        await restarted.taken(after.uid)

    assert answer["In-Reply-To"] == after.message_id
    assert [e.parsed()["In-Reply-To"] for e in smtp_server.envelopes] == [
        before.message_id,
        after.message_id,
    ]
    assert await inbound_keys(database) == [before.message_id, after.message_id]
    assert len(await outbox_entries(database)) == 2


async def test_a_rebuilt_mailbox_with_a_new_uidvalidity_is_resynced_without_answering_twice(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example")
    olga = customer(inbox, smtp_server, "olga@pekarnya.example")
    old = [
        await kim.writes("Broken chairs", DAMAGED),
        await olga.writes("Invoice", "Please send the invoice for order 7710 again."),
    ]
    await kim.receives(1)
    await olga.receives(1)
    before = await bot.watermarks.load()
    assert before is not None

    # The server rebuilds the mailbox (kicking the bot): the old mail comes back under new
    # UIDs 1 and 2, below the old watermark, and a new mail arrives as UID 3.
    await inbox.reset_mailbox(BOT)
    assert [await inbox.append(BOT, sent.raw) for sent in old] == [1, 2]
    new = await kim.writes("Delivery date", "When will the replacement chairs arrive?")
    assert new.uid == 3
    [answer] = await kim.receives(1)
    await bot.taken(new.uid)

    assert answer["In-Reply-To"] == new.message_id
    after = await bot.watermarks.load()
    assert after is not None and after[0] != before[0] and after[1] == 3
    await settled(bot.database)
    assert len(await outbox_entries(bot.database)) == 3  # none for the old mails again
    assert len(smtp_server.envelopes) == 3
    # Two senders' mails are handled side by side: stored in either order, each once.
    *resynced, last = await inbound_keys(bot.database)
    assert sorted(resynced) == sorted(s.message_id for s in old) and last == new.message_id


async def test_a_killed_imap_connection_is_reopened_and_the_mail_meanwhile_is_answered_once(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.email.imap")
    customers = [customer(inbox, smtp_server, f"buyer{n}@shop{n}.example") for n in range(1, 7)]
    first = await customers[0].writes("Broken chairs", DAMAGED)
    await customers[0].receives(1)
    await bot.taken(first.uid)

    written: list[Sent] = []
    for number, someone in enumerate(customers[1:], start=1):
        await asyncio.to_thread(inbox.kick, BOT)  # in the middle of IDLE, a sweep or a fetch
        written.append(await someone.writes(f"Order {number}", DAMAGED))
    for someone in customers[1:]:
        await someone.receives(1)
    await bot.taken(written[-1].uid)

    assert bot.crashed() is None
    answered = [e.parsed()["In-Reply-To"] for e in smtp_server.envelopes]
    assert sorted(answered) == sorted([first.message_id, *(s.message_id for s in written)])
    assert sorted(await inbound_keys(bot.database)) == sorted(answered)
    assert len(await outbox_entries(bot.database)) == len(answered)
    # A connection found gone mid-command is reported, one found gone between two commands is
    # reopened without a word: the kicks show as connections.
    connections = [r for r in caplog.records if r.getMessage().startswith("IMAP connected")]
    assert len(connections) >= 2, "the kicks never reached the bot's connection"


async def test_kicks_in_the_middle_of_a_backlog_lose_and_repeat_nothing(
    database: Database, inbox: Dovecot, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.email.imap")
    buyers = [customer(inbox, smtp_server, f"buyer{n}@shop{n}.example") for n in range(1, 21)]
    backlog = [
        await b.writes(f"Order {n} of {b.address}", DAMAGED) for n in (1, 2, 3) for b in buyers
    ]

    def connected() -> int:
        return sum(r.getMessage().startswith("IMAP connected") for r in caplog.records)

    async with EmailBot(database, inbox, smtp_server) as bot:
        # Kicked twice while the sweep is still reading the backlog; the second kick waits for
        # the connection the first one made the bot open again (the mails in hand meanwhile
        # go on being stored: a kick between connections would reach nobody).
        await eventually(lambda: stored_at_least(database, 10), what="10 mails stored")
        await asyncio.to_thread(inbox.kick, BOT)
        await eventually(lambda: connected() >= 2, what="the bot connected again")
        await eventually(lambda: stored_at_least(database, 30), what="30 mails stored")
        await asyncio.to_thread(inbox.kick, BOT)
        # The bot finds the connection gone mid-command (and says so) or between two (and
        # opens a new one without a word): either way the kick shows as a third connection.
        await eventually(lambda: connected() >= 3, what="the bot connected after the 2nd kick")
        await eventually(
            lambda: len(smtp_server.envelopes) >= len(backlog), what="an answer to each mail"
        )
        await bot.taken(backlog[-1].uid)
        await settled(database)

    answered = [e.parsed()["In-Reply-To"] for e in smtp_server.envelopes]
    assert sorted(answered) == sorted(mail.message_id for mail in backlog)
    assert sorted(await inbound_keys(database)) == sorted(answered)
    assert len(await outbox_entries(database)) == len(backlog)


# --- SMTP refusals ---------------------------------------------------------------------------


async def test_a_reply_refused_with_451_is_retried_and_delivered_once(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    smtp_server.answer("RCPT", 451)
    kim = customer(inbox, smtp_server, "kim@initech.example")

    mail = await kim.writes("Broken chairs", DAMAGED)
    [answer] = await kim.receives(1)

    assert answer["In-Reply-To"] == mail.message_id
    assert smtp_server.commands("RCPT") == ["RCPT TO:<kim@initech.example>"] * 2
    assert len(smtp_server.envelopes) == 1
    await settled(bot.database)
    [row] = await outbox_entries(bot.database)
    assert (row.status, row.attempts, row.message_id) == ("sent", 2, answer["Message-ID"])
    assert row.last_error is not None and "451" in row.last_error
    assert (await kinds(bot.database))[-1] == "delivered"


async def test_a_reply_refused_with_550_fails_and_marks_the_address_unreachable(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    smtp_server.answer("RCPT", 550, times=10)
    gone = customer(inbox, smtp_server, "gone@initech.example")

    first = await gone.writes("Broken chairs", DAMAGED)

    async def marked() -> bool:
        return bool(await touchpoints_of(bot.database, "unreachable"))

    await eventually(marked, what="the address marked unreachable")

    assert smtp_server.envelopes == []
    assert smtp_server.commands("RCPT") == ["RCPT TO:<gone@initech.example>"]  # never retried
    [row] = await outbox_entries(bot.database)
    assert (row.status, row.attempts, row.in_reply_to) == ("failed", 1, first.message_id)
    assert row.last_error == "SMTP RCPT 550 5.1.1 No such user here"
    [failed] = await touchpoints_of(bot.database, "failed")
    assert failed.details["reason"] == "SMTP RCPT 550 5.1.1 No such user here"
    assert await reachable(bot.database, "gone@initech.example") == (
        False,
        "SMTP RCPT 550 5.1.1 No such user here",
    )

    # Mail from the address gets its reply tried again (bot/inbound.py); a From line proves
    # nothing, so the address is reachable again only if that send goes through: it does not.
    again = await gone.writes("Hello?", "Is anybody reading this?")
    await bot.taken(again.uid)
    await settled(bot.database)
    assert [row.status for row in await outbox_entries(bot.database)] == ["failed", "failed"]
    assert smtp_server.commands("RCPT") == ["RCPT TO:<gone@initech.example>"] * 2
    assert smtp_server.envelopes == []
    delivery = ("failed", "unreachable", "reachable_again", "delivered")
    assert [k for k in await kinds(bot.database) if k in delivery] == [
        "failed",
        "unreachable",
        "failed",
        "unreachable",
    ]


# --- machines get no answer ------------------------------------------------------------------


async def test_an_out_of_office_answer_to_our_reply_gets_no_answer(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example", "Kim Lee")
    await kim.writes("Broken chairs", DAMAGED)
    [opened] = await kim.receives(1)

    away = await kim.writes(
        "Automatic reply: Re: [#1001] Broken chairs",
        "I am out of the office until Monday and will answer your mail then.",
        replying_to=opened,
        headers=[("Auto-Submitted", "auto-replied")],
    )
    await bot.taken(away.uid)

    assert len(smtp_server.envelopes) == 1
    assert len(await outbox_entries(bot.database)) == 1
    [ignored] = await touchpoints_of(bot.database, "auto_reply_ignored")
    assert ignored.details["reason"] == "Auto-Submitted: auto-replied"
    [opened_tp] = await touchpoints_of(bot.database, "ticket_opened")
    assert ignored.contact_id == opened_tp.contact_id  # on Kim's timeline
    assert await inbound_keys(bot.database) == [kim.written[0].message_id, away.message_id]
    [(_, notes)] = await tickets(bot.database)
    assert notes == [DAMAGED]  # the out-of-office text is not a note of the ticket


async def test_a_mailing_list_mail_gets_no_answer(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    news = customer(inbox, smtp_server, "news@vendor.example", "Vendor News")

    letter = await news.writes(
        "Our November offers",
        "Dear customer, this month we have 20% off all office chairs. Reply for a quote!",
        headers=[
            ("List-Id", "Vendor news <news.vendor.example>"),
            ("List-Unsubscribe", "<mailto:unsubscribe@vendor.example>"),
        ],
    )
    await bot.taken(letter.uid)

    assert smtp_server.transcript == []
    assert await outbox_entries(bot.database) == []
    [ignored] = await touchpoints_of(bot.database, "bulk_ignored")
    assert ignored.details["reason"] == "List-Id"
    assert await leads(bot.database) == []
    assert await inbound_keys(bot.database) == [letter.message_id]


def delivery_report(returned: bytes, recipient: str, status: str) -> tuple[str, bytes]:
    """An RFC 3464 bounce as Postfix writes it, returning `returned` (our reply) whole."""
    message_id = make_msgid(domain="mx.initech.example")
    action = "failed" if status.startswith("5") else "delayed"
    text = f"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.initech.example>
To: {BOT}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(utc_now())}
Message-ID: {message_id}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="report-boundary"

--report-boundary
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.initech.example.
I'm sorry to have to inform you that your message could not be delivered.

<{recipient}>: host mx.initech.example said: 550 {status} User unknown

--report-boundary
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.initech.example

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--report-boundary
Content-Type: message/rfc822

"""
    closing = b"\n--report-boundary--\n"
    raw = text.encode() + returned.replace(b"\r\n", b"\n") + closing
    return message_id, raw.replace(b"\n", b"\r\n")


async def test_a_bounce_of_our_reply_maps_back_to_its_conversation_and_ends_delivery(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    kim = customer(inbox, smtp_server, "kim@initech.example")
    daemon = customer(inbox, smtp_server, "MAILER-DAEMON@mx.initech.example")
    await kim.writes("Broken chairs", DAMAGED)
    [opened] = await kim.receives(1)
    [conversation] = await conversation_ids(bot.database, "kim@initech.example")

    returned = smtp_server.envelopes[0].data
    message_id, raw = delivery_report(returned, kim.address, "5.1.1")
    bounce = await daemon.sends(raw, message_id)
    await bot.taken(bounce.uid)

    assert len(smtp_server.envelopes) == 1
    assert len(await outbox_entries(bot.database)) == 1
    [bounced] = await touchpoints_of(bot.database, "bounced")
    assert bounced.conversation_id == conversation
    assert bounced.details["our_message"] == opened["Message-ID"]
    assert bounced.details["recipient"] == "kim@initech.example"
    is_reachable, reason = await reachable(bot.database, "kim@initech.example")
    assert not is_reachable and reason is not None and reason.startswith("bounced:")
    assert bounced.details["acted"] is True
    assert await inbound_keys(bot.database) == [kim.written[0].message_id, bounce.message_id]


async def test_a_forged_bounce_silences_nobody(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    # Anybody can mail us a delivery report naming any address. It used to mark that address
    # bounced for good: one mail silenced a customer forever.
    kim = customer(inbox, smtp_server, "kim@initech.example")
    forger = customer(inbox, smtp_server, "MAILER-DAEMON@evil.example")
    await kim.writes("Broken chairs", DAMAGED)
    [opened] = await kim.receives(1)

    # A report about a mail of ours that never went to Kim, then one about no mail of ours.
    lena = customer(inbox, smtp_server, "lena@example.org")
    await lena.writes("Broken table", DAMAGED)
    await lena.receives(1)
    to_lena = smtp_server.envelopes[-1].data
    for returned in (to_lena, b"Message-ID: <made-up@touchpoint.example>\r\n\r\nhi\r\n"):
        message_id, raw = delivery_report(returned, kim.address, "5.1.1")
        await bot.taken((await forger.sends(raw, message_id)).uid)

    is_reachable, _ = await reachable(bot.database, kim.address)
    assert is_reachable
    reports = await touchpoints_of(bot.database, "bounced")
    assert [report.details["acted"] for report in reports] == [False, False]
    await kim.writes("Re: Broken chairs", "Any news?", replying_to=opened)
    assert len(await kim.receives(1)) == 1  # still answered


# --- hostile headers -------------------------------------------------------------------------


def encoded(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


HOSTILE = {
    # (From, Subject as written in the raw mail) → the subject of our answer
    "quoted-printable-encoded-word-in-display-name": (
        "=?utf-8?q?Eve=0D=0ABcc=3A_evil=40example.com?= <eve@example.org>",
        "Order 5531",
        "Re: [#1001] Order 5531",
    ),
    "base64-encoded-word-in-display-name": (
        encoded("Eve\r\nBcc: evil@example.com") + " <eve@example.org>",
        "Order 5531",
        "Re: [#1001] Order 5531",
    ),
    "quoted-printable-encoded-word-in-subject": (
        "Eve <eve@example.org>",
        "=?utf-8?q?Order_5531=0D=0ABcc:_evil@example.com?=",
        "Re: [#1001] Order 5531 Bcc: evil@example.com",
    ),
    "base64-encoded-word-in-subject": (
        "Eve <eve@example.org>",
        encoded("Order 5531\r\nBcc: evil@example.com\r\nX-Evil: 1"),
        "Re: [#1001] Order 5531 Bcc: evil@example.com X-Evil: 1",
    ),
    "encoded-word-inside-an-encoded-word": (
        "Eve <eve@example.org>",
        encoded("Order 5531 =?utf-8?q?=0ABcc:_evil@example.com?="),
        "Re: [#1001] Order 5531 Bcc: evil@example.com",
    ),
    "encoded-word-in-quoted-display-name": (
        '"=?utf-8?q?Eve=0ABcc:_evil@example.com?=" <eve@example.org>',
        "Order 5531",
        "Re: [#1001] Order 5531",
    ),
    "folded-subject": (
        "Eve <eve@example.org>",
        "Order 5531\r\n Bcc: evil@example.com",
        "Re: [#1001] Order 5531 Bcc: evil@example.com",
    ),
    "bare-cr-in-subject": (
        "Eve <eve@example.org>",
        "Order 5531\rBcc: evil@example.com",
        "Re: [#1001] Order 5531",
    ),
}


@pytest.mark.parametrize(("sender", "subject", "answered_as"), HOSTILE.values(), ids=HOSTILE)
async def test_crlf_hidden_in_a_name_or_subject_never_adds_a_header_or_a_recipient(
    bot: EmailBot,
    inbox: Dovecot,
    smtp_server: SmtpServer,
    sender: str,
    subject: str,
    answered_as: str,
) -> None:
    eve = customer(inbox, smtp_server, "eve@example.org")
    message_id = make_msgid(domain="example.org")
    head = [("From", sender), ("To", BOT), ("Subject", subject), ("Message-ID", message_id)]
    await eve.sends(mail_bytes(head, DAMAGED), message_id)

    [answer] = await eve.receives(1)

    assert smtp_server.commands("RCPT") == ["RCPT TO:<eve@example.org>"]
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ("eve@example.org",)
    assert answer.keys() == REPLY_HEADERS
    assert (answer["To"], answer["Subject"]) == ("eve@example.org", answered_as)
    head_lines = envelope.data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    names = [line.split(b":", 1)[0].decode() for line in head_lines if line[:1] not in b" \t"]
    assert names == REPLY_HEADERS  # every other line continues one of these
    assert not any(b"\r" in line or b"\n" in line for line in head_lines)
    assert answer["In-Reply-To"] == message_id


async def test_a_from_that_names_two_mailboxes_gets_no_answer_at_all(
    bot: EmailBot, inbox: Dovecot, smtp_server: SmtpServer
) -> None:
    # ':' and '@' are not allowed raw in an encoded-word of a display name (RFC 2047 §5):
    # parsers disagree on how many mailboxes this From holds, so the bot trusts none of them.
    eve = customer(inbox, smtp_server, "eve@example.org")
    message_id = make_msgid(domain="example.org")
    sender = "=?utf-8?q?Eve=0D=0ABcc:_evil@example.com?= <eve@example.org>"
    head = [("From", sender), ("To", BOT), ("Subject", "Order 5531"), ("Message-ID", message_id)]
    mail = await eve.sends(mail_bytes(head, DAMAGED), message_id)
    await bot.taken(mail.uid)

    assert smtp_server.transcript == []
    assert await outbox_entries(bot.database) == []
    assert await inbound_keys(bot.database) == [message_id]
    assert await kinds(bot.database) == ["ignored"]
