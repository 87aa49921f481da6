"""`touchpoint run` as a real subprocess serving email: IMAP from the test's Dovecot, SMTP to the
test's aiosmtpd, on PostgreSQL; then the CLI reads back what the bot stored. The run ends with
SIGTERM and a clean exit, and its log never shows the IMAP password."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.model import utc_now
from storage.tables import messages
from storage.uow import Database
from tests.bot_process import BotProcess, bot_environment
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer

pytestmark = pytest.mark.slow

smtp_server = smtp_service.smtp_server  # the fixture, made visible to this module

BOT = "bot@example.com"
EMAIL_FROM = "Example Sales <bot@example.com>"
DAMAGED = "My order 5531 arrived damaged, two chairs have broken armrests."
TICKET_OPENED = (
    "Your request #1001 is open. Our team will look into it and I'll follow up within 24 hours. "
    'Ask "status #1001" any time.'
)


# --- the bot process, its database, its mail servers -----------------------------------------


@pytest.fixture
async def inbox(dovecot: Dovecot) -> Dovecot:
    """The bot's INBOX, emptied, with a UIDVALIDITY of its own for this test."""
    await dovecot.reset_mailbox(BOT)
    return dovecot


def email_environment(
    database_url: str, dovecot: Dovecot, smtp: SmtpServer, **settings: str
) -> dict[str, str]:
    """The settings of an installation whose mailbox is the test's Dovecot and SmtpServer."""
    return bot_environment(
        database_url,
        **{
            "IMAP_HOST": dovecot.host,
            "IMAP_PORT": str(dovecot.port),
            "IMAP_USER": BOT,
            "IMAP_PASSWORD": dovecot.users[BOT],
            "IMAP_SECURITY": "none",  # allowed on loopback only
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "EMAIL_FROM": EMAIL_FROM,
            "RELAY_POLL_SECONDS": "0.2",
            **settings,
        },
    )


@asynccontextmanager
async def touchpoint_run(env: dict[str, str], log: Path) -> AsyncIterator[BotProcess]:
    """`touchpoint run`; on leaving, SIGTERM: it exits 0, and its log never shows the password."""
    async with BotProcess(env, log) as bot:
        yield bot
        assert await bot.stop() == 0, bot.log()[-4000:]
        text = bot.log()
        assert f"IMAP connected to 127.0.0.1:{env['IMAP_PORT']}, INBOX selected" in text
        assert env["IMAP_PASSWORD"] not in text


async def cli_json(env: dict[str, str], *args: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def stored_inbound(database_url: str) -> list[str]:
    """The keys (Message-IDs) of the inbound mail the bot has committed."""
    database = Database.from_url(database_url)
    query = select(messages.c.external_id).where(messages.c.direction == "in")
    try:
        async with database.transaction() as uow:
            return [row[0] for row in await uow.connection.execute(query.order_by(messages.c.id))]
    finally:
        await database.dispose()


# --- mail, as a mail server delivers it ------------------------------------------------------


def customer_mail(
    sender: str,
    subject: str,
    body: str,
    *,
    replying_to: EmailMessage | None = None,
    headers: Sequence[tuple[str, str]] = (),
    domain: str = "customer.example",
) -> tuple[str, bytes]:
    """(Message-ID, bytes) of a plain-text mail; `replying_to` threads it under our answer."""
    message_id = make_msgid(domain=domain)
    thread: list[tuple[str, str]] = []
    if replying_to is not None:
        ours = str(replying_to["Message-ID"])
        chain = f"{replying_to['References']} {ours}".split()
        thread = [("In-Reply-To", ours), ("References", " ".join(chain))]
    head = [
        ("From", sender),
        ("To", EMAIL_FROM),
        ("Subject", subject),
        ("Date", format_datetime(utc_now())),
        ("Message-ID", message_id),
        *thread,
        *headers,
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    lines = [f"{name}: {value}" for name, value in head]
    text = "\r\n".join([*lines, "", *body.splitlines()]) + "\r\n"
    return message_id, text.encode()


def answers_to(smtp: SmtpServer, address: str) -> list[EmailMessage]:
    return [e.parsed() for e in smtp.envelopes if e.rcpt_tos == (address,)]


def plain_text(answer: EmailMessage) -> str:
    part = answer.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).strip("\n")


# --- the test --------------------------------------------------------------------------------


async def test_a_service_mail_its_reply_in_the_thread_and_an_out_of_office_then_the_cli(
    database_url: str, inbox: Dovecot, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    kim = "kim@initech.example"
    # DEBUG: aioimaplib then logs every IMAP command, LOGIN included; the password stays out.
    env = email_environment(database_url, inbox, smtp_server, LOG_LEVEL="DEBUG")
    async with touchpoint_run(env, tmp_path / "bot.log") as bot:
        first_id, first = customer_mail(f"Kim Lee <{kim}>", "Broken chairs", DAMAGED)
        await inbox.append(BOT, first)
        await bot.eventually(
            lambda: len(answers_to(smtp_server, kim)) == 1, what="an answer to the mail"
        )
        [opened] = answers_to(smtp_server, kim)
        assert opened["Subject"] == "Re: [#1001] Broken chairs"
        assert opened["In-Reply-To"] == first_id
        assert plain_text(opened) == TICKET_OPENED

        reply_id, reply = customer_mail(
            f"Kim Lee <{kim}>",
            "Re: [#1001] Broken chairs",
            "Thanks. Also, the box was wet when it arrived.\n\n"
            f"On {opened['Date']}, Example Sales <{BOT}> wrote:\n> {TICKET_OPENED}\n",
            replying_to=opened,
        )
        await inbox.append(BOT, reply)
        await bot.eventually(
            lambda: len(answers_to(smtp_server, kim)) == 2, what="an answer to the reply"
        )
        added = answers_to(smtp_server, kim)[1]
        assert added["Subject"] == "Re: [#1001] Broken chairs"
        assert added["In-Reply-To"] == reply_id
        assert str(added["References"]).split() == [first_id, opened["Message-ID"], reply_id]
        assert plain_text(added) == "Added to your request #1001."

        away_id, away = customer_mail(
            f"Kim Lee <{kim}>",
            "Automatic reply: Re: [#1001] Broken chairs",
            "I am out of the office until Monday and will read your mail then.",
            replying_to=added,
            headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
        )
        await inbox.append(BOT, away)

        async def away_stored() -> bool:
            return away_id in await stored_inbound(database_url)

        await bot.eventually(away_stored, what="the out-of-office mail stored")

    # The stop delivered whatever was due: the out-of-office got nothing.
    assert len(smtp_server.envelopes) == 2
    assert smtp_server.commands("RCPT") == [f"RCPT TO:<{kim}>"] * 2
    assert await stored_inbound(database_url) == [first_id, reply_id, away_id]
    ticket = await cli_json(env, "tickets", "show", "1001")
    assert (ticket["number"], ticket["status"]) == (1001, "open")
    assert [note["text"] for note in ticket["notes"]] == [
        DAMAGED,
        "Thanks. Also, the box was wet when it arrived.",
    ]
    [ignored] = await cli_json(env, "touchpoints", "list", "--kind", "auto_reply_ignored")
    assert ignored["details"]["reason"] == "Auto-Submitted: auto-replied"
