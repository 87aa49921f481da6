"""How long what is received and sent is kept, and the daily pass that forgets the rest.

Kept for good: touchpoint rows (kind, actor, time, channel: what reports and timelines are made
of) and the records of conversations, leads and tickets. Kept for a time (settings): raw mail
(the original bytes, attachments included), message and outbox texts and payloads, dead
letters' payloads. One person can be forgotten at once on request (`contacts forget`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from bot.kinds import Actor, TouchpointKind
from bot.recorder import Touch, record
from storage.repos.retention import Pruned
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

EVERY = timedelta(days=1)
CURSOR = ("maintenance", "pruned_at")
SYSTEM_CHANNEL = "system"


@dataclass(frozen=True, slots=True)
class Retention:
    raw_mail: timedelta = timedelta(days=90)
    texts: timedelta = timedelta(days=730)
    dead_letters: timedelta = timedelta(days=30)


async def prune(uow: UnitOfWork, retention: Retention, now: datetime) -> Pruned:
    """Forget what is past its time, with a `pruned` touchpoint saying how much; not committed."""
    pruned = await uow.retention.prune(
        raw_before=now - retention.raw_mail,
        text_before=now - retention.texts,
        dead_before=now - retention.dead_letters,
    )
    details = asdict(pruned)
    await record(uow, [Touch(TouchpointKind.PRUNED, Actor.SYSTEM, SYSTEM_CHANNEL, now, details)])
    return pruned


class DailyPrune:
    """Prune once a day, whichever process of the installation gets to it (the time of the
    last pass is a row, so restarts and several instances do not prune more often)."""

    def __init__(
        self, database: Database, retention: Retention, clock: Callable[[], datetime]
    ) -> None:
        self._db = database
        self._retention = retention
        self._clock = clock

    async def run_if_due(self) -> Pruned | None:
        return await self._db.run(self._if_due)

    async def _if_due(self, uow: UnitOfWork) -> Pruned | None:
        now = self._clock()
        last = await uow.cursors.get(*CURSOR)
        if last is not None and now - datetime.fromisoformat(last) < EVERY:
            return None
        pruned = await prune(uow, self._retention, now)
        await uow.cursors.put(*CURSOR, now.isoformat(), now)
        await uow.commit()
        # An empty prune (every fresh start) is not news: it would only clutter the terminal.
        log.log(
            logging.INFO if any(asdict(pruned).values()) else logging.DEBUG,
            "pruned: %s",
            asdict(pruned),
        )
        return pruned
