"""One sender's mails accepted one after another, in UID order, while other senders' go on.

The ingest hands several mails over side by side (`imap.py`'s window), and each is read in a
worker before anyone knows whose it is. A sender who writes twice in a row must still be
answered in that order, and the second mail's turn must see the first one's. So each hand-over
takes its place in line in the order the hand-overs began (after the one before it has taken
its own, however long the reading took), then waits for the sender's previous mail to be
accepted. If that one failed, this one is not accepted either: the next sweep hands both over
again, in order. A mail that could not be read has no known sender: none of the mails after it
in hand is accepted. Once no mail is in hand, nothing is remembered, so a failed mail that never
comes again holds nobody up: the ingest starts no mail after a failed one in the same sweep, and
the next sweep begins with the failed one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.model import InboundMessage
from channels.email.mail import FetchedMail


class EarlierMailFailed(Exception):
    """An earlier mail in hand was not accepted (the sender's) or could not be read (maybe
    theirs): this one waits for the next sweep too."""


Read = Callable[[FetchedMail], Awaitable[InboundMessage]]
Accept = Callable[[InboundMessage], Awaitable[object]]


class InSenderOrder:
    def __init__(self, read: Read, accept: Accept) -> None:
        self._read = read
        self._accept = accept
        self._last_placed: asyncio.Future[bool] | None = None  # False: its sender is unknown
        self._last_of: dict[str, asyncio.Future[bool]] = {}  # True once accepted
        self._in_hand = 0

    async def hand_over(self, fetched: FetchedMail) -> None:
        # Taken before the first await: the hand-overs' own order is the order they began.
        before = self._last_placed
        placed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._last_placed = placed
        accepted: asyncio.Future[bool] | None = None
        sender = ""
        self._in_hand += 1
        try:
            message = await self._read(fetched)
            if before is not None:
                await asyncio.wait({before})  # not cancelled with us: it belongs to another
                if not before.result():  # it may have been this sender's: none goes first
                    raise EarlierMailFailed("an earlier mail in hand could not be read")
            sender = message.address.value
            previous, accepted = self._last_of.get(sender), placed.get_loop().create_future()
            self._last_of[sender] = accepted
            placed.set_result(True)
            if previous is not None:
                await asyncio.wait({previous})
                if not previous.result():
                    raise EarlierMailFailed("an earlier mail of the same sender was not accepted")
            await self._accept(message)
            accepted.set_result(True)
        finally:
            if not placed.done():
                placed.set_result(False)
            if accepted is not None and not accepted.done():
                accepted.set_result(False)  # kept: the sender's later mails must not go first
            elif accepted is not None and self._last_of.get(sender) is accepted:
                del self._last_of[sender]  # accepted, and the sender's last in hand
            self._in_hand -= 1
            if not self._in_hand:
                self._last_of.clear()
                self._last_placed = None
