"""`touchpoint run` serving Telegram and email while its mail server hangs: the server accepts the
connection and never says a word (overloaded, or a firewall dropping its packets), so every
send of a mail waits out the SMTP client's timeout. Telegram customers are answered at once all
the same; the mail's reply waits in the outbox for the mail server, and is not lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.bot_process import BotProcess
from tests.e2e.test_email_run import BOT, DAMAGED, customer_mail, email_environment, inbox
from tests.e2e.test_telegram_crash import stored
from tests.fakes.telegram import FakeTelegram
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer

pytestmark = pytest.mark.slow

smtp_server = smtp_service.smtp_server  # the fixtures, made visible to this module
silent_port = smtp_service.silent_port
inbox = inbox

CHATS = range(930_001, 930_006)
ANSWERED_WITHIN = 10.0  # seconds, far below the SMTP client's timeout of 30


async def test_a_hung_mail_server_holds_up_no_telegram_reply(
    database_url: str,
    inbox: Dovecot,
    smtp_server: SmtpServer,
    silent_port: int,
    fake: FakeTelegram,
    tmp_path: Path,
) -> None:
    env = email_environment(
        database_url, inbox, smtp_server,
        SMTP_PORT=str(silent_port),  # the hung server, not the test's aiosmtpd
        TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.api_url,
    )  # fmt: skip
    bot = BotProcess(env, tmp_path / "bot.log")
    await bot.start()
    try:
        await bot.eventually(lambda: "INBOX selected" in bot.log(), what="the mailbox read")
        _, mail = customer_mail("Kim Lee <kim@initech.example>", "Broken chairs", DAMAGED)
        await inbox.append(BOT, mail)

        async def mail_reply_sending() -> bool:
            return any(r.status == "sending" for r in (await stored(database_url)).replies)

        await bot.eventually(mail_reply_sending, what="the mail's reply stuck in its send")
        asked = time.monotonic()
        for chat_id in CHATS:
            fake.user_message(chat_id, "hello")
        await bot.eventually(
            lambda: all(fake.texts_to(chat_id) for chat_id in CHATS),
            what="every Telegram chat answered",
            timeout=ANSWERED_WITHIN,
        )
        answered = time.monotonic() - asked
        final = await stored(database_url)
    finally:
        await bot.kill()

    print(f"\nfive Telegram chats answered {answered:.2f} s after they wrote, a mail send hung")
    mail_replies = [r for r in final.replies if "@" in r.address]
    assert [r.status for r in mail_replies] == ["sending"]  # waits for the mail server
    assert smtp_server.envelopes == []
