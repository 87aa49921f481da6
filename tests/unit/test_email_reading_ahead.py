"""Reading the next mail while the current one's turn runs: each mail is read once, a reading
begun ahead is the one taken, and readings the sweep will not ask for are dropped."""

from __future__ import annotations

import asyncio
import contextlib

from bot.model import Address, InboundMessage, Sender
from channels.email.mail import FetchedMail
from channels.email.reader import ReadingAhead


class CountingReader:
    """Reads a mail into a message named after its UID; `gate` holds every reading."""

    def __init__(self) -> None:
        self.reads: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self, fetched: FetchedMail) -> InboundMessage:
        self.reads.append(fetched.uid)
        await self.gate.wait()
        sender = Sender(external_id="ann@example.org")
        return InboundMessage(f"uid-{fetched.uid}", Address("email", "ann@example.org"), sender)


def fetched(uid: int, uidvalidity: int = 7) -> FetchedMail:
    return FetchedMail(uidvalidity, uid, f"mail {uid}".encode())


async def test_a_mail_read_ahead_is_read_once_and_handed_its_own_message() -> None:
    reader = CountingReader()
    reading = ReadingAhead(reader)

    reading.start(fetched(2))
    first = await reading.read(fetched(1))
    second = await reading.read(fetched(2))

    assert (first.external_id, second.external_id) == ("uid-1", "uid-2")
    assert sorted(reader.reads) == [1, 2]


async def test_readings_the_sweep_will_not_ask_for_are_cancelled() -> None:
    reader = CountingReader()
    reading = ReadingAhead(reader)
    reader.gate.clear()
    reading.start(fetched(5))
    await asyncio.sleep(0)  # the reading of 5 has begun and waits
    stale = next(iter(reading._started.values()))

    reader.gate.set()
    # a sweep that stopped before 5 starts again at 3: 5 may still come, and is kept
    assert (await reading.read(fetched(3))).external_id == "uid-3"
    assert not stale.cancelled()
    # past it (5 was passed over), or under a new UIDVALIDITY, it is dropped
    assert (await reading.read(fetched(6))).external_id == "uid-6"
    with contextlib.suppress(asyncio.CancelledError):
        await stale
    assert stale.cancelled()
    reading.start(fetched(9))
    await reading.read(fetched(1, uidvalidity=8))
    reading.cancel()
    assert reader.reads[:2] == [5, 3]
