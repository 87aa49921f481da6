"""An attack by mail while a customer chats on Telegram: `touchpoint run` as a subprocess, with
Telegram (the fake Bot API) and email (a private Dovecot, aiosmtpd) in one process.

Twenty hostile mails — HTML that makes html.parser quadratic, half a million tiny parts, MIME
nesting 3,000 deep, headers the header parser takes minutes over, a body that needs 650 MiB —
are appended to the bot's mailbox while a Telegram customer keeps writing. Before mail was read
in worker processes each of them stalled the one event loop, Telegram included, for seconds to
minutes (the HTML ones 74 s and more, the many parts 103 s). Now every Telegram message is
answered (each reply's latency is printed, p50 and p99), and every hostile mail ends parked
with the reason it was refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.bot_process import BotProcess
from tests.e2e.test_email_run import BOT, cli_json, email_environment
from tests.fakes.telegram import FakeTelegram, SentMessage
from tests.services import smtp as smtp_service
from tests.services.dovecot import Dovecot
from tests.services.smtp import SmtpServer

pytestmark = pytest.mark.slow

smtp_server = smtp_service.smtp_server  # the fixture, made visible to this module

CHAT = 8008
EVERY_REPLY_WITHIN = 30.0  # seconds: generous, for a loaded machine; not a benchmark
ATTACK_SECONDS = 300.0  # all twenty parked by then, or the test fails
HTML_LIMIT = r"unparseable mail: HTML with [\d,]+ unclosed tags \(more than 1,000\)"
TOO_MANY_PARTS = "more than 1,000 MIME parts"
TOO_DEEP = "MIME parts nested deeper than 50"
TOO_SLOW = r"parsing took over 10 s"
TOO_BIG = r"parsing ran out of memory \(the limit is 512 MiB\)"
TOO_SLOW_OR_BIG = f"(?:{TOO_SLOW}|{TOO_BIG})"  # quadratic in both: whichever limit comes first


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str
    raw: bytes
    reason: str  # a pattern for the dead letter's error, after "unreadable: "

    @property
    def key(self) -> str:
        """The parked mail's key: it has no Message-ID we could read."""
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()


def head(name: str, content_type: str) -> bytes:
    return (
        f"From: Mallory <mallory@attacker.example>\r\nTo: {BOT}\r\nSubject: {name}\r\n"
        f"Message-ID: <{name}@attacker.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


def html_mail(name: str, construct: str, size: int = 1_000_000) -> Hostile:
    body = (construct * (size // len(construct))).encode()
    return Hostile(name, head(name, "text/html; charset=utf-8") + body + b"\r\n", HTML_LIMIT)


def html_alternative(name: str) -> Hostile:
    """An empty plain part and 1 MB of HTML beside it: the HTML is what gets read."""
    parts = [
        b"Content-Type: text/plain\r\n\r\n \r\n",
        b"Content-Type: text/html\r\n\r\n" + b"</" * 500_000 + b"\r\n",
    ]
    body = multipart("alt", iter(parts))
    return Hostile(name, head(name, 'multipart/alternative; boundary="alt"') + body, HTML_LIMIT)


def multipart(boundary: str, parts: Iterator[bytes]) -> bytes:
    mark = boundary.encode()
    return b"".join(b"--" + mark + b"\r\n" + part for part in parts) + b"--" + mark + b"--\r\n"


def tiny_parts(name: str, count: int) -> Hostile:
    part = b"Content-Type: text/plain\r\n\r\nx\r\n"
    body = multipart("b", (part for _ in range(count)))
    return Hostile(name, head(name, 'multipart/mixed; boundary="b"') + body, TOO_MANY_PARTS)


def nested(name: str, depth: int, kind: str = "mixed") -> Hostile:
    inner = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for level in range(depth - 1):
        mark = f"n{level}"
        inner = f'Content-Type: multipart/{kind}; boundary="{mark}"\r\n\r\n'.encode() + multipart(
            mark, iter([inner])
        )
    body = multipart("top", iter([inner]))
    return Hostile(name, head(name, f'multipart/{kind}; boundary="top"') + body, TOO_DEEP)


def forwarded(name: str, depth: int) -> Hostile:
    inner = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for _ in range(depth):
        inner = b"Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    return Hostile(name, head(name, "message/rfc822") + inner, TOO_DEEP)


def many_parameters(name: str) -> Hostile:
    """100,000 parameters in one Content-Type: minutes, and more memory than the limit."""
    params = "; ".join(f"p{n}=v" for n in range(100_000))
    return Hostile(name, head(name, f"text/plain; {params}") + b"hello\r\n", TOO_SLOW_OR_BIG)


def encoded_file_name(name: str) -> Hostile:
    """A file name of 100,000 encoded words: minutes, and more memory than the limit."""
    words = ("=?utf-8?q?a?= " * 100_000).encode()
    disposition = b'Content-Disposition: attachment; filename="' + words + b'"\r\n'
    file = b"Content-Type: application/pdf\r\n" + disposition + b"\r\nx\r\n"
    body = multipart("b", iter([b"Content-Type: text/plain\r\n\r\nsee attached\r\n", file]))
    return Hostile(name, head(name, 'multipart/mixed; boundary="b"') + body, TOO_SLOW_OR_BIG)


def hostile_mails() -> list[Hostile]:
    """Twenty mails, each of which used to hold the event loop for seconds to minutes, with
    CRLF line ends: Dovecot hands bare LFs out as CRLF, and a parked mail's key is the hash of
    the bytes as fetched."""
    return [replace(mail, raw=crlf(mail.raw)) for mail in _hostile_mails()]


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _hostile_mails() -> list[Hostile]:
    return [
        html_mail("html-end-tags", "</"),  # 74 s on the event loop before
        html_mail("html-comments", "<!--"),
        html_mail("html-open-tags", "<a\n"),
        html_mail("html-open-quotes", "<a b='"),
        html_mail("html-unclosed-comments", "<!--a>"),
        html_mail("html-instructions", "<?"),
        html_mail("html-end-tag-names", "</a"),
        html_alternative("html-in-alternative"),
        tiny_parts("half-a-million-parts", 500_000),  # 18 MB: 103 s and 372 MiB before
        tiny_parts("two-thousand-parts", 2_000),
        nested("nested-3000", 3_000),  # 16 s before
        nested("nested-900", 900),
        nested("nested-alternatives", 60, kind="alternative"),
        forwarded("forwarded-3000", 3_000),
        forwarded("forwarded-60", 60),
        many_parameters("content-type-parameters"),
        encoded_file_name("encoded-file-name"),
        Hostile(
            "seven-million-lines",
            head("seven-million-lines", "text/plain") + b"a\r\n" * 7_000_000,  # 650 MiB to parse
            TOO_BIG,
        ),
        html_mail("html-end-tags-small", "</", size=300_000),
        html_mail("html-comments-small", "<!--", size=300_000),
    ]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "attack.db"


@pytest.fixture
async def inbox(dovecot: Dovecot) -> Dovecot:
    await dovecot.reset_mailbox(BOT)
    return dovecot


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token="7654321:AAH-attack_SecretPart-of-the-token") as server:
        yield server


def parked_count(database: Path) -> int:
    """Dead letters so far, read without a lock (WAL readers never block the bot's writer)."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return int(connection.execute("SELECT count(*) FROM dead_letters").fetchone()[0])


# --- the chat --------------------------------------------------------------------------------


class Chat:
    """A Telegram customer who writes, waits for the answer, and writes again."""

    def __init__(self, fake: FakeTelegram, bot: BotProcess) -> None:
        self._fake = fake
        self._bot = bot
        self.latencies: list[float] = []
        self.answered_at: list[float] = []

    async def exchange(self, text: str, *, timed: bool = True) -> None:
        before = len(self._answers())
        said = time.monotonic()
        self._fake.user_message(CHAT, text, first_name="Ann")
        try:
            await self._fake.wait_until(lambda: len(self._answers()) > before, EVERY_REPLY_WITHIN)
        except AssertionError:
            raise AssertionError(
                f"no answer to {text!r} within {EVERY_REPLY_WITHIN} s\n{self._bot.log()[-4000:]}"
            ) from None
        answer = self._answers()[before]
        if timed:
            self.latencies.append(answer.at - said)
            self.answered_at.append(answer.at)

    def _answers(self) -> list[SentMessage]:
        return [m for m in self._fake.sent if m.chat_id == CHAT]

    def report(self) -> str:
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return (
            f"{len(ordered)} Telegram replies during the attack: "
            f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {ordered[-1] * 1000:.0f} ms"
        )


async def append_all(inbox: Dovecot, mails: list[Hostile]) -> None:
    for mail in mails:
        await inbox.append(BOT, mail.raw)


# --- the test --------------------------------------------------------------------------------


async def test_telegram_keeps_answering_while_hostile_mail_is_parked(
    database: Path, inbox: Dovecot, smtp_server: SmtpServer, fake: FakeTelegram, tmp_path: Path
) -> None:
    mails = hostile_mails()  # built first: the test's own loop serves the fake Bot API
    env = email_environment(
        f"sqlite+aiosqlite:///{database}",
        inbox,
        smtp_server,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_POLL_TIMEOUT="1",
        TELEGRAM_MAX_PER_CHAT="0",
        TELEGRAM_MAX_PER_SECOND="0",
        FLOOD_LIMIT="0",  # the chat writes as fast as it is answered: measured, not held back
    )
    async with BotProcess(env, tmp_path / "bot.log") as bot:
        chat = Chat(fake, bot)
        await chat.exchange("/start", timed=False)  # the bot is up (its start-up not timed)
        attack_began = time.monotonic()
        appending = asyncio.create_task(append_all(inbox, mails))
        deadline = attack_began + ATTACK_SECONDS
        while not appending.done() or parked_count(database) < len(mails):
            assert time.monotonic() < deadline, f"not all parked\n{bot.log()[-4000:]}"
            await chat.exchange("/help")
            await asyncio.sleep(0.1)
        await appending
        attack_ended = time.monotonic()
        assert await bot.stop() == 0, bot.log()[-4000:]

    print(f"\n{chat.report()}; the attack lasted {attack_ended - attack_began:.1f} s")
    assert max(chat.latencies) < EVERY_REPLY_WITHIN
    during = [at for at in chat.answered_at if attack_began <= at <= attack_ended]
    assert len(during) >= 10  # the chat went on through the attack, not around it

    parked = {
        row["external_id"]: row["error"] for row in await cli_json(env, "dead-letters", "list")
    }
    for mail in mails:
        assert mail.key in parked, f"{mail.name} was not parked"
        assert re.fullmatch(f"unreadable: {mail.reason}", parked[mail.key]), (
            mail.name,
            parked[mail.key],
        )
    assert len(parked) == len(mails)
    assert smtp_server.envelopes == []  # nothing answered the attacker
