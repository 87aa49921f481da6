"""Send gates: a channel paced per account is sent by one instance at a time.

Telegram's limits (about one message a second per chat, 30 a second overall, a 429 pausing
the whole bot) are the bot's, whichever process sends. Its pacing lives in process memory, so
with several instances one of them sends, the holder of the channel's sender lease
(bot/leadership.py); the others' relays lease no row of that channel and stand by, and one of
them takes over within the lease's length when the sender dies (at once after a clean stop).
One process sends the Bot API's whole 30 a second, so nothing is lost in throughput.

Guaranteed, as far as leader leases are (the instances' clocks agree): the relays of two
instances do not lease rows of the channel at once, and a new holder sends nothing for the
account's pacing window after taking the lease (the old holder may have sent the limit's worth
in the window before it let go, and the new holder's pacer knows nothing of it). Not
guaranteed: that no send of the old holder is still in flight when the new one starts (it
finishes under its row's fenced lease), nor that the new holder knows of the old one's 429
(Telegram answers it again, and it pauses).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.leadership import LeaderLease


class LeaseGate:
    """Open while this instance holds `lease`, from `settle` seconds after it was seen taken;
    shut the moment it is lost (taken over, or run out before it could be renewed)."""

    def __init__(self, lease: LeaderLease, *, settle: float = 0.0) -> None:
        self._lease = lease
        self._settle = settle
        self._held_since: float | None = None  # monotonic; None while not held

    @property
    def open(self) -> bool:
        if not self._lease.in_force:
            self._held_since = None
            return False
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since >= self._settle

    async def keep(self, opened: Callable[[], None]) -> None:
        async def hold() -> None:
            self._held_since = time.monotonic()
            await asyncio.sleep(self._settle)  # the sends of the holder before count in it
            opened()  # the relay looks at once instead of at its next poll
            await asyncio.Event().wait()

        await self._lease.run_while_leader(hold)
