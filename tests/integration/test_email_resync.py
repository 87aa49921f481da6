"""A mailbox rebuilt under a new UIDVALIDITY, through the real channels: Dovecot holds the
mail, the real `EmailChannel` reads it, the dispatcher commits on SQLite or PostgreSQL, and
aiosmtpd receives whatever the bot answers.

The server gives every mail a new UID (a restore from a backup, a rebuilt index, a migration),
so the watermark means nothing any more and the bot reads the mailbox again from UID 1. What it
must not do then is answer the mailbox's history: mail it answered already, and mail older than
EMAIL_BACKFILL_DAYS that it left alone when it first started.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email import message_from_bytes
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from bot.model import utc_now
from storage.uow import Database
from tests.integration.test_email_channel import (
    BOT,
    DAMAGED,
    EMAIL_FROM,
    EmailBot,
    MailCustomer,
    Sent,
    customer,
    inbound_keys,
    inbox,  # noqa: F401  (the fixture)
    mail_bytes,
    outbox_entries,
    settled,
    smtp_server,  # noqa: F401  (the fixture)
)
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer


async def wrote_long_ago(someone: MailCustomer, subject: str, body: str, days: float) -> Sent:
    """A mail that came `days` ago (Date and INTERNALDATE), before the bot was installed."""
    when = utc_now() - timedelta(days=days)
    message_id = f"<history-{len(someone.written)}-{someone.address}>"
    head = [
        ("From", someone.address),
        ("To", EMAIL_FROM),
        ("Subject", subject),
        ("Date", format_datetime(when)),
        ("Message-ID", message_id),
    ]
    raw = mail_bytes(head, body)
    sent = Sent(message_id, await someone.dovecot.append(BOT, raw, received=when), raw)
    someone.written.append(sent)
    return sent


async def wrote_without_message_id(someone: MailCustomer, subject: str, body: str) -> Sent:
    head = [
        ("From", someone.address),
        ("To", EMAIL_FROM),
        ("Subject", subject),
        ("Date", format_datetime(utc_now())),
    ]
    return await someone.sends(mail_bytes(head, body), message_id="")


async def test_a_rebuilt_mailbox_answers_the_new_mail_only(
    database: Database,
    inbox: Dovecot,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="channels.email")
    kim = customer(inbox, smtp_server, "kim@initech.example")
    olga = customer(inbox, smtp_server, "olga@pekarnya.example")
    ivan = customer(inbox, smtp_server, "ivan@bean.example")
    # The mailbox's history: the first start leaves it alone (EMAIL_BACKFILL_DAYS is 3).
    history = [
        await wrote_long_ago(kim, "Chairs for the old office", "A quote for 12 chairs?", 40),
        await wrote_long_ago(olga, "Invoice 6120", "Please send invoice 6120 again.", 10),
    ]
    async with EmailBot(database, inbox, smtp_server) as first:
        recent = [
            await kim.writes("Broken chairs", DAMAGED),
            await olga.writes("Invoice", "Please send the invoice for order 7710 again."),
            await wrote_without_message_id(ivan, "Coffee machines", "A price for 10, please."),
        ]
        for someone in (kim, olga, ivan):
            await someone.receives(1)
        await first.taken(recent[-1].uid)
        await settled(database)
    answered = await inbound_keys(database)
    assert len(answered) == 3 and len(smtp_server.envelopes) == 3

    # The server rebuilds the mailbox while the bot is stopped: every mail comes back under a
    # new UIDVALIDITY, with the date it first arrived on.
    await inbox.reset_mailbox(BOT)
    for old in history:
        await inbox.append(BOT, old.raw, received=_internal_date(old))
    for mail in recent:
        await inbox.append(BOT, mail.raw)

    async with EmailBot(database, inbox, smtp_server) as restarted:
        new = await kim.writes("Delivery date", "When will the replacement chairs arrive?")
        [answer] = await kim.receives(1)
        await restarted.taken(new.uid)
        await settled(database)
        watermark = await restarted.watermarks.load()

    assert answer["In-Reply-To"] == new.message_id
    assert len(smtp_server.envelopes) == 4  # the three answers of the first run, and this one
    assert [e.rcpt_tos for e in smtp_server.envelopes[3:]] == [(kim.address,)]
    assert await inbound_keys(database) == [*answered, new.message_id]
    assert len(await outbox_entries(database)) == 4
    assert watermark is not None and watermark[1] == new.uid  # past the history, too
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "UIDVALIDITY" in warnings[0].getMessage() and "INBOX" in warnings[0].getMessage()


def _internal_date(sent: Sent) -> datetime:
    """The date the mail first arrived on: its Date header, as `wrote_long_ago` wrote it."""
    return parsedate_to_datetime(str(message_from_bytes(sent.raw)["Date"]))
