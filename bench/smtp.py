"""Replies per second through an SMTP relay with STARTTLS and AUTH, sent one after another.

    python -m bench.smtp [--replies N] [--runs R]

Starts aiosmtpd on 127.0.0.1 (tests/services/smtp.py) offering STARTTLS with a throwaway
certificate and requiring AUTH, as a company's relay on port 587 does, and sends N composed
replies to it three ways, the relay's way (one after another, each awaited):

- baseline: `aiosmtplib.send` per reply, the library's one-call API: a session per reply
  (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, QUIT);
- floor: one aiosmtplib session for all N (connect and log in once, then MAIL, RCPT, DATA per
  reply): the least any sender can do with this server;
- Touchpoint: `SmtpSender.send` per reply, as the relay calls it.

Each prints replies per second (median (min–max) of R interleaved rounds), the ratio to the
baseline per round, and the SMTP commands the server heard per reply. On 127.0.0.1 a round
trip costs next to nothing, so the figures show the CPU of each way (TLS handshakes above all);
over a network every command more is a round trip more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from functools import partial
from pathlib import Path

import aiosmtplib

from bench.rounds import Spread, add_runs_argument, aligned, interleave_async, ratios
from channels.email.compose import compose_reply
from channels.email.smtp import SmtpConfig, SmtpSender, tls_context
from tests.services.smtp import SmtpServer, TlsFiles, make_certificates

USER, PASSWORD = "bot", "bench-password"
ENVELOPE_FROM = "bounces@shop.example"
CUSTOMER = "buyer@example.com"


def replies(count: int) -> list[EmailMessage]:
    return [
        compose_reply(
            text=f"Thank you for your order {5000 + number}. It ships tomorrow.",
            options=[],
            sender="Example Sales <bot@shop.example>",
            recipient=CUSTOMER,
            recipient_name="Buyer",
            subject=f"Re: Order {5000 + number}",
            message_id=f"<bench-{number}@shop.example>",
            in_reply_to=f"<question-{number}@example.com>",
            references=[f"<question-{number}@example.com>"],
            auto_submitted=True,
            loop_token="bench-loop-token",
            language="en",
        )
        for number in range(count)
    ]


async def one_call_each(
    server: SmtpServer, context: ssl.SSLContext, mails: list[EmailMessage]
) -> None:
    for mail in mails:
        await aiosmtplib.send(
            mail, sender=ENVELOPE_FROM, recipients=[CUSTOMER], hostname=server.host,
            port=server.port, start_tls=True, tls_context=context, username=USER,
            password=PASSWORD, local_hostname="localhost",
        )  # fmt: skip


async def one_session(
    server: SmtpServer, context: ssl.SSLContext, mails: list[EmailMessage]
) -> None:
    client = aiosmtplib.SMTP(
        hostname=server.host, port=server.port, start_tls=True, tls_context=context,
        local_hostname="localhost",
    )  # fmt: skip
    await client.connect()
    await client.login(USER, PASSWORD)
    for mail in mails:
        await client.send_message(mail, sender=ENVELOPE_FROM, recipients=[CUSTOMER])
    await client.quit()


async def touchpoint(server: SmtpServer, tls: TlsFiles, mails: list[EmailMessage]) -> None:
    config = SmtpConfig(
        server.host, server.port, USER, PASSWORD, "starttls", ca_file=str(tls.ca),
        helo_name="localhost",
    )  # fmt: skip
    sender = SmtpSender(config)
    try:
        for mail in mails:
            await sender.send(mail, envelope_from=ENVELOPE_FROM, recipient=CUSTOMER)
    finally:
        await sender.close()


Way = Callable[[SmtpServer, list[EmailMessage]], Awaitable[None]]


async def timed(way: Way, tls: TlsFiles, mails: list[EmailMessage]) -> tuple[float, float]:
    """Replies per second, and the commands the server heard per reply."""
    with SmtpServer(tls=tls, users={USER: PASSWORD}) as server:
        started = time.perf_counter()
        await way(server, mails)
        seconds = time.perf_counter() - started
        await server.settle()
        if len(server.envelopes) != len(mails):
            raise RuntimeError(f"{len(server.envelopes)} of {len(mails)} replies delivered")
        return len(mails) / seconds, len(server.transcript) / len(mails)


async def each_round(
    way: Way, tls: TlsFiles, mails: list[EmailMessage], _round: int
) -> tuple[float, float]:
    return await timed(way, tls, mails)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=300)
    add_runs_argument(parser)
    args = parser.parse_args()
    # aiosmtpd's own AUTH handling warns at every login; the server is only the test bed
    warnings.filterwarnings("ignore", "Session.login_data is deprecated")
    mails = replies(args.replies)
    with tempfile.TemporaryDirectory() as folder:
        tls = make_certificates(Path(folder))
        context = tls_context(str(tls.ca))
        ways: list[tuple[str, Way]] = [
            ("baseline: aiosmtplib.send per reply", lambda s, m: one_call_each(s, context, m)),
            ("floor: one aiosmtplib session", lambda s, m: one_session(s, context, m)),
            ("Touchpoint: SmtpSender, one after another", lambda s, m: touchpoint(s, tls, m)),
        ]
        results = await interleave_async(
            args.runs, [partial(each_round, way, tls, mails) for _, way in ways]
        )
    print(
        f"{args.replies} replies, STARTTLS + AUTH, aiosmtpd on 127.0.0.1; {os.cpu_count()} CPUs; "
        f"{args.runs} interleaved rounds, median (min–max)\n"
    )
    baseline = [speed for speed, _ in results[0]]
    rows = [["", "replies/s", "ratio to baseline", "commands per reply"]]
    for (name, _), runs in zip(ways, results, strict=True):
        speeds = [speed for speed, _ in runs]
        rows.append([
            name, Spread.of(speeds).format(",.0f"), ratios(speeds, baseline).format(".2f"),
            Spread.of(commands for _, commands in runs).format(".2f"),
        ])  # fmt: skip
    print("\n".join(aligned("{}  {}  {}  {}", rows)))


if __name__ == "__main__":
    asyncio.run(main())
