"""Two `touchpoint run` instances reading one mailbox on one PostgreSQL database: one reads, the
other stands by and takes over when the first is killed — and a mail read by both (the killed
one's last sweep, the new reader's first) is stored and answered once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from bot.model import utc_now
from storage.tables import channel_cursors
from storage.uow import Database, UnitOfWork
from tests.bot_process import BotProcess, held_leases
from tests.e2e import test_email_run as email_run
from tests.e2e.test_email_crash import (
    Mail,
    answered,
    deliver,
    every_mail_answered,
    mailbox_of_200,
    stored,
)
from tests.e2e.test_email_run import BOT, email_environment
from tests.integration.test_metrics import sample
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

smtp_server = smtp_service.smtp_server
inbox = email_run.inbox

TAKEOVER_SECONDS = 3.0
WITHIN_SECONDS = TAKEOVER_SECONDS + 10.0  # generous, for a loaded machine; nothing else is timed
MAILS = 30
READ_AGAIN = 5  # mails the killed reader is taken to have read without moving the watermark


class Instance:
    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.process = BotProcess(
            env
            | {
                "INSTANCE_NAME": name,
                "LEADER_TAKEOVER_SECONDS": str(TAKEOVER_SECONDS),
                "METRICS_LISTEN": f"127.0.0.1:{self.port}",
                "WEB_LISTEN": "off",
            },
            log,
        )

    async def get(self, path: str) -> str:
        try:
            async with (
                ClientSession() as http,
                http.get(f"http://127.0.0.1:{self.port}{path}") as response,
            ):
                return await response.text()
        except OSError:
            return ""

    async def reads(self) -> bool | None:
        """Whether it holds the mailbox's lease (its /healthz); None while it is not serving."""
        leases = await held_leases(self.port)
        held = [held for name, held in leases.items() if name.startswith("imap/")]
        return held[0] if held else None


async def the_reader(one: Instance, other: Instance) -> tuple[Instance, Instance]:
    async def decided() -> tuple[Instance, Instance] | None:
        first, second = await one.reads(), await other.reads()
        if first is None or second is None or first == second:
            return None
        return (one, other) if first else (other, one)

    found = await eventually(decided, what="one reader, one standby", timeout=60)
    assert found is not None
    return found


async def rewind_watermark(database_url: str, by: int) -> None:
    """As if the last mails read had been accepted but the watermark not yet moved."""
    database = Database.from_url(database_url)

    async def work(uow: UnitOfWork) -> None:
        cursors = select(channel_cursors.c.key, channel_cursors.c.value)
        found = await uow.connection.execute(cursors.where(channel_cursors.c.channel == "email"))
        for key, value in found.all():
            if key.startswith(BOT):
                uidvalidity, last_uid = value.split(":")[:2]
                rewound = f"{uidvalidity}:{max(int(last_uid) - by, 0)}"
                await uow.cursors.put("email", key, rewound, utc_now())
        await uow.commit()

    try:
        await database.run(work)
    finally:
        await database.dispose()


async def test_a_standby_takes_over_reading_the_mailbox_and_stores_every_mail_once(
    database_url: str, inbox: Dovecot, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    mails: list[Mail] = mailbox_of_200()[:MAILS]
    env = email_environment(database_url, inbox, smtp_server, RELAY_LEASE_SECONDS="2")
    alpha = Instance("alpha", env, tmp_path / "alpha.log")
    beta = Instance("beta", env, tmp_path / "beta.log")
    await alpha.process.start()
    await beta.process.start()
    try:
        reader, standby = await the_reader(alpha, beta)
        first, later = mails[: MAILS // 2], mails[MAILS // 2 :]
        await deliver(inbox, first)
        await reader.process.eventually(every_mail_answered(smtp_server, first), what="answers")

        await reader.process.kill()
        killed_at = time.monotonic()
        await rewind_watermark(database_url, READ_AGAIN)
        await deliver(inbox, later)
        await eventually(
            standby.reads, what="the standby reading", context=standby.process.log_tail
        )
        took = time.monotonic() - killed_at
        await standby.process.eventually(every_mail_answered(smtp_server, mails), what="answers")
        metrics = await standby.get("/metrics")
    finally:
        await alpha.process.stop()
        await beta.process.stop()

    read_twice = sample(metrics, "touchpoint_turns_total", channel="email", outcome="duplicate")
    print(
        f"\nSIGKILL of {reader.name}: {standby.name} took the mailbox over {took:.2f} s later "
        f"(LEADER_TAKEOVER_SECONDS={TAKEOVER_SECONDS:g}); {read_twice:g} mails read twice"
    )
    assert took < WITHIN_SECONDS
    log = standby.process.log()
    assert log.index(f"taken by {standby.name}") < log.index("IMAP connected"), "read standing by"
    assert read_twice >= READ_AGAIN
    final = await stored(database_url)
    assert sorted(final.inbound) == sorted(mail.message_id for mail in mails)
    assert final.parked == 0
    assert sorted(str(a.in_reply_to) for a in final.answers) == sorted(final.inbound)
    assert [a for a in final.answers if a.status != "sent"] == []
    # Only an answer in flight at the kill may have gone out twice.
    assert sum(answered(smtp_server).values()) - MAILS <= 1
