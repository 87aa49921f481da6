"""What a catch-up leaves alone.

A catch-up is the ingest's reading of the mail a mailbox already held when the ingest first saw
it: at the very first start, and when the server gave the mailbox a new UIDVALIDITY (a restore
from a backup, a rebuilt index, a migration), which voids every UID the watermark knew, so the
mailbox is read again from UID 1. `imap.py` keeps where a catch-up ends in the watermark, so a
restart in the middle of one goes on with the same rules. Two kinds of mail are passed over
there, before their bytes are downloaded, and the watermark moves past them:

- **Mail received more than `backfill_days` ago** (its INTERNALDATE, the server's own date of
  arrival; the Date header is the sender's word): the bot answers what arrives from its
  installation on, not a mailbox's history — the same rule at the first start and after a
  resync. A mail without an INTERNALDATE is not passed over for its age.
- **Mail already stored**: its Message-ID is the key of a stored inbound message of the
  channel, *and* its From address is the address of that message's conversation.

Why Message-ID and sender, not Message-ID and Date: both pairs are there to avoid taking a
reused or forged Message-ID for the mail stored under it. The sender of every stored mail is
kept (its conversation's address, which retention keeps; erasing a person on request replaces
it, and their mail then reaches the core, which drops it by its key), while the Date header is
not stored at all: comparing it would need a new column and would miss every mail stored before
it. And a Date proves no more than a Message-ID: both are header text a forger copies together.

Neither pair can make the bot lose a mail: the core's own key of a mail is its Message-ID
alone (`inbound.key_of`), so whatever is passed over here is a mail the dispatcher would have
dropped as a duplicate anyway, and whatever is not (another sender, no Message-ID, a header
that could not be read) is handed over as usual and still meets that unique key. The check
saves downloading and parsing a mailbox's worth of mail the bot has seen, and keeps those mails
from counting as arrivals against the sender's flood limit (`bot/floods.py` counts duplicates
too); the header lines come with the sizes the ingest fetches
anyway (at most `imap.HEADER_BYTES` a mail), and the lookup is one indexed query a batch.
It runs only during a catch-up: between catch-ups, mail above the watermark is new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.model import utc_now
from channels.email.mail import MailHead
from channels.email.parse import message_id_and_sender

TOO_OLD = "received before the backfill cut-off"
STORED = "already stored"


class StoredMail(Protocol):
    """Which mails are stored already as inbound messages of the email channel."""

    async def stored(self, mails: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of these (Message-ID, sender address) pairs, those stored as an inbound message
        under that Message-ID in a conversation with that address."""
        ...


class NothingStored:
    """For an ingest without a database (benchmarks, tests of the ingest alone)."""

    async def stored(self, mails: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return set()


class CatchUpRules:
    """The rules above, with the cut-off `backfill_days` before `clock()`."""

    def __init__(
        self,
        backfill_days: float,
        stored: StoredMail,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._backfill = timedelta(days=backfill_days)
        self._stored = stored
        self._clock = clock

    def rule(self) -> str:
        """The rules in words, for the log."""
        cutoff = f"{self._cutoff():%Y-%m-%d %H:%M} UTC"
        return f"mail received before {cutoff} and mail already stored are passed over"

    async def passed_over(self, heads: Sequence[MailHead]) -> dict[int, str]:
        """UID → why, for the heads to leave alone."""
        cutoff = self._cutoff()
        passed = {h.uid: TOO_OLD for h in heads if h.internal_date and h.internal_date < cutoff}
        known = [(head.uid, _identity(head)) for head in heads if head.uid not in passed]
        pairs = [pair for _, pair in known if pair is not None]
        stored = await self._stored.stored(pairs) if pairs else set()
        passed.update({uid: STORED for uid, pair in known if pair in stored})
        return passed

    def _cutoff(self) -> datetime:
        return self._clock() - self._backfill


def _identity(head: MailHead) -> tuple[str, str] | None:
    message_id, sender = message_id_and_sender(head.header)
    return (message_id, sender) if message_id and sender else None
