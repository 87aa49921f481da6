"""The scheduler: finds due timers (rows, not memory) and has the dispatcher fire each one.

A timer fires once: the dispatcher's turn takes it with a conditional update, so a restart
or a second instance polling the same table cannot fire it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.dispatch import Dispatcher
from bot.model import utc_now
from bot.retention import DailyPrune
from storage.uow import Database

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        database: Database,
        dispatcher: Dispatcher,
        *,
        clock: Callable[[], datetime] = utc_now,
        poll_seconds: float = 5.0,
        daily: DailyPrune | None = None,
    ) -> None:
        self._db = database
        self._dispatcher = dispatcher
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._daily = daily

    async def run(self) -> None:
        while True:
            try:
                await self.fire_due()
                if self._daily is not None:
                    await self._daily.run_if_due()
            except Exception:  # the database may be away for a moment; try again next poll
                log.exception("scheduler poll failed")
            await asyncio.sleep(self._poll_seconds)

    async def fire_due(self) -> int:
        """Fire every timer due now; returns how many fired."""
        due = await self._db.run(lambda uow: uow.timers.due(self._clock()))
        fired = 0
        for timer_id in due:
            fired += await self._dispatcher.fire_timer(timer_id)
        return fired
