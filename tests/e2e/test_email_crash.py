"""`touchpoint run` killed in the middle of a mailbox of 200 mails, then started again.

Dovecot and the SMTP server run for the test; the bot is a real subprocess on a real database.
A SIGKILL may lose no mail and store none twice (the IMAP watermark moves only after the turn
commits; a mail handed over again is recognised by its Message-ID). The only answer that may go
out twice is the one in flight at the kill: sent, not yet marked sent in the outbox. Repeats
are recognised by our own Message-ID, which stays the same on a resend.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.tables import dead_letters, messages, outbox
from storage.uow import Database
from tests.bot_process import BotProcess
from tests.e2e import test_email_run as email_run
from tests.e2e.test_email_run import BOT, DAMAGED, customer_mail, email_environment
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import Envelope, SmtpServer

# What a kill leaves behind is the engine's: these run on both.
pytestmark = [pytest.mark.slow, pytest.mark.engines("sqlite", "postgres")]

# The shared fixtures, made visible to this module.
smtp_server = smtp_service.smtp_server
inbox = email_run.inbox

SENDERS = 50
# Every sender writes these four mails (four subjects: four threads); each gets one answer.
SCRIPT = (
    ("Broken chairs", DAMAGED),
    ("Standing desks", "We would like a quote for 40 standing desks.\n\nBest regards,\n{name}\n"),
    ("Question", "what can you do?"),
    ("Invoice", "Please send the invoice for order 7710 again."),
)
MAILS = SENDERS * len(SCRIPT)
# A reply leased by the killed process is sent again once its lease expires: a short lease
# keeps the restart from waiting the production minute.
LEASE_SECONDS = "2"


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    sender: str
    raw: bytes


def mailbox_of_200() -> list[Mail]:
    """200 mails from 50 senders, interleaved as they would arrive."""
    mails = []
    for subject, body in SCRIPT:
        for number in range(1, SENDERS + 1):
            address = f"buyer{number}@shop{number}.example"
            name = f"Buyer Number{number}"
            message_id, raw = customer_mail(f"{name} <{address}>", subject, body.format(name=name))
            mails.append(Mail(message_id, address, raw))
    return mails


async def deliver(dovecot: Dovecot, mails: list[Mail]) -> None:
    """APPEND every mail to the bot's INBOX, over one connection."""
    async with dovecot.imap(BOT) as client:
        for mail in mails:
            response = await client.append(mail.raw, mailbox="INBOX")
            assert response.result == "OK", response.lines


# --- what the database holds -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    message_id: str | None
    in_reply_to: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Stored:
    inbound: list[str]
    answers: list[Answer]
    parked: int

    def with_status(self, status: str) -> list[Answer]:
        return [answer for answer in self.answers if answer.status == status]


async def stored(database_url: str) -> Stored:
    database = Database.from_url(database_url)
    answers = select(outbox.c.header_id, outbox.c.in_reply_to, outbox.c.status)
    inbound = select(messages.c.external_id).where(messages.c.direction == "in")
    try:
        async with database.transaction() as uow:
            run = uow.connection.execute
            return Stored(
                inbound=[row[0] for row in await run(inbound.order_by(messages.c.id))],
                answers=[Answer(*row) for row in await run(answers.order_by(outbox.c.id))],
                parked=(await run(select(func.count()).select_from(dead_letters))).scalar_one(),
            )
    finally:
        await database.dispose()


# --- what the customers received -------------------------------------------------------------


@functools.cache
def header(envelope: Envelope, name: str) -> str:
    """One header of what the SMTP server received (parsed once: the waits poll often)."""
    return str(BytesHeaderParser(policy=policy.default).parsebytes(envelope.data)[name])


def answered(smtp: SmtpServer) -> Counter[str]:
    """How many answers each original mail got (our answers name it in In-Reply-To)."""
    return Counter(header(envelope, "In-Reply-To") for envelope in smtp.envelopes)


def every_mail_answered(smtp: SmtpServer, mails: list[Mail]) -> Callable[[], bool]:
    return lambda: all(answered(smtp)[mail.message_id] >= 1 for mail in mails)


def repeats(envelopes: list[Envelope]) -> list[str]:
    """Our Message-IDs sent more than once (a resend of one outbox row keeps its id)."""
    sent = Counter(header(envelope, "Message-ID") for envelope in envelopes)
    return [message_id for message_id, times in sent.items() for _ in range(times - 1)]


# --- the test --------------------------------------------------------------------------------


# Killed at the first answer, most of the mailbox is not yet read; at a quarter of the answers,
# the ingest is usually still going and answers are going out beside it.
@pytest.mark.parametrize("kill_after", [1, MAILS // 4], ids=["first-answer", "quarter-answered"])
async def test_a_killed_bot_stores_and_answers_every_mail_once(
    database_url: str, inbox: Dovecot, smtp_server: SmtpServer, tmp_path: Path, kill_after: int
) -> None:
    mails = mailbox_of_200()
    await deliver(inbox, mails)
    env = email_environment(database_url, inbox, smtp_server, RELAY_LEASE_SECONDS=LEASE_SECONDS)

    first = BotProcess(env, tmp_path / "killed.log")
    await first.start()
    try:
        await first.eventually(
            lambda: len(smtp_server.envelopes) >= kill_after, what=f"{kill_after} answers"
        )
    finally:
        await first.kill()
    sent_at_kill = len(smtp_server.envelopes)
    at_kill = await stored(database_url)
    assert 0 < sent_at_kill < MAILS, "the kill must come in the middle of the answers"
    # Leased answers not yet sent are `sending` too; in flight is what went out unmarked.
    went_out = {header(envelope, "Message-ID") for envelope in smtp_server.envelopes}
    in_flight = {a.message_id for a in at_kill.with_status("sending") if a.message_id in went_out}
    assert len(in_flight) <= 1, "one answer at a time is in flight"

    async with BotProcess(env, tmp_path / "restarted.log") as restarted:
        await restarted.eventually(
            every_mail_answered(smtp_server, mails), what="an answer to every mail"
        )
        assert await restarted.stop() == 0, restarted.log()[-4000:]
    final = await stored(database_url)

    # Every mail stored exactly once, none parked.
    assert sorted(final.inbound) == sorted(mail.message_id for mail in mails)
    assert final.parked == 0
    # Answered exactly once in the outbox, each answer sent to the mail's sender only.
    assert sorted(str(a.in_reply_to) for a in final.answers) == sorted(final.inbound)
    assert [a for a in final.answers if a.status != "sent"] == []
    sender_of = {mail.message_id: mail.sender for mail in mails}
    for envelope in smtp_server.envelopes:
        assert envelope.rcpt_tos == (sender_of[header(envelope, "In-Reply-To")],)
    # What went out twice is only the answer in flight at the kill, under the same Message-ID.
    repeated = repeats(smtp_server.envelopes)
    extra = sum(answered(smtp_server).values()) - MAILS
    print(
        f"\n[{database_url.split('+')[0]}] SIGKILL after {sent_at_kill}/{MAILS} answers sent, "
        f"{len(at_kill.inbound)}/{MAILS} mails stored, {len(at_kill.with_status('sent'))} "
        f"answers marked sent, {len(in_flight)} in flight; after the restart: "
        f"{len(final.inbound)} stored, {len(smtp_server.envelopes)} SMTP messages, "
        f"answers repeated: {extra}"
    )
    assert extra == len(repeated)
    assert extra <= 1
    assert set(repeated) <= in_flight
