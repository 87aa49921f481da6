"""What a mailbox's catch-up passes over (channels/email/catch_up.py), decided on the heads the
IMAP server gives: a fake clock and a fake store of mail at the seams, real header reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from channels.email.catch_up import STORED, TOO_OLD, CatchUpRules
from channels.email.mail import MailHead
from tests.harness import FakeClock

KIM = "kim@initech.example"


class FakeStore:
    """Mail stored as (Message-ID, sender); records every question."""

    def __init__(self, *stored: tuple[str, str]) -> None:
        self.stored_pairs = set(stored)
        self.asked: list[list[tuple[str, str]]] = []

    async def stored(self, mails: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        self.asked.append(list(mails))
        return {pair for pair in mails if pair in self.stored_pairs}


def header(message_id: str | None = None, sender: str | None = KIM) -> bytes:
    """The lines the ingest fetches of a mail: its From and Message-ID, then the blank line."""
    lines = [f"From: {sender}" if sender else "", f"Message-ID: {message_id}" if message_id else ""]
    return "".join(f"{line}\r\n" for line in lines if line).encode() + b"\r\n"


def head(uid: int, received: datetime | None, block: bytes = b"") -> MailHead:
    return MailHead(uid, 1000, received, block)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_mail_received_before_the_cut_off_is_passed_over(clock: FakeClock) -> None:
    rules = CatchUpRules(3, FakeStore(), clock)
    heads = [
        head(1, clock.now - timedelta(days=400)),
        head(2, clock.now - timedelta(days=3, seconds=1)),
        head(3, clock.now - timedelta(days=3)),
        head(4, clock.now),
        head(5, None),  # no INTERNALDATE: nothing says it is old
    ]

    assert await rules.passed_over(heads) == {1: TOO_OLD, 2: TOO_OLD}


async def test_mail_stored_under_its_message_id_from_the_same_sender_is_passed_over(
    clock: FakeClock,
) -> None:
    store = FakeStore(("<a@initech.example>", KIM), ("<b@initech.example>", KIM))
    rules = CatchUpRules(3, store, clock)
    heads = [
        head(1, clock.now, header("<a@initech.example>")),
        head(2, clock.now, header("<b@initech.example>", "Mallory <mallory@evil.example>")),
        head(3, clock.now, header("<c@initech.example>")),
    ]

    assert await rules.passed_over(heads) == {1: STORED}
    assert store.asked == [
        [
            ("<a@initech.example>", KIM),
            ("<b@initech.example>", "mallory@evil.example"),
            ("<c@initech.example>", KIM),
        ]
    ]


async def test_mail_without_a_message_id_or_a_sender_is_handed_over_without_asking(
    clock: FakeClock,
) -> None:
    store = FakeStore(("<a@initech.example>", KIM))
    rules = CatchUpRules(3, store, clock)
    heads = [
        head(1, clock.now, header(None)),
        head(2, clock.now, header("<a@initech.example>", None)),
        head(3, clock.now, header("<a@initech.example>", f"a <{KIM}>, b <x@initech.example>")),
        head(4, clock.now, b""),  # no header fetched
    ]

    assert await rules.passed_over(heads) == {}
    assert store.asked == []


async def test_old_mail_is_not_looked_up(clock: FakeClock) -> None:
    store = FakeStore(("<a@initech.example>", KIM))
    rules = CatchUpRules(3, store, clock)
    old = head(1, clock.now - timedelta(days=30), header("<a@initech.example>"))

    assert await rules.passed_over([old]) == {1: TOO_OLD}
    assert store.asked == []


async def test_the_cut_off_follows_the_clock(clock: FakeClock) -> None:
    rules = CatchUpRules(3, FakeStore(), clock)
    mail = head(1, clock.now - timedelta(days=2))
    assert await rules.passed_over([mail]) == {}

    clock.advance(days=2)

    assert await rules.passed_over([mail]) == {1: TOO_OLD}
    assert "mail received before 2026-03-01 09:00 UTC" in rules.rule()
