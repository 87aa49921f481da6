"""The relay's leases on outbox rows, fenced.

A batch of rows is leased with a token of its own (`holder:random`) before it is sent. A row is
settled only under that token: should a send outlast the lease and another relay take the row,
the first relay's result changes nothing. While a batch's sends go on, its leases are renewed
(every third of their length, one statement for the batch), so a slow send (a 20 MB file, an
SMTP server taking its 30 s per step) is not taken over in the first place. A restarted
instance takes its own leases back at once instead of waiting them out: the `holder` part is
the instance's name, stable across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)


class Leases:
    def __init__(
        self,
        database: Database,
        length: timedelta,
        holder: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = database
        self.length = length
        self._holder = holder
        self._clock = clock

    def new_token(self) -> str:
        return f"{self._holder}:{secrets.token_hex(8)}"

    async def reclaim(self) -> int:
        """This instance's leases from before a restart, released for sending at once."""

        async def work(uow: UnitOfWork) -> int:
            released = await uow.outbox.reclaim(self._holder)
            await uow.commit()
            return released

        released = await self._db.run(work)
        if released:
            log.info("%s outbox rows leased before a restart are sent again", released)
        return released

    @asynccontextmanager
    async def kept(self, token: str) -> AsyncIterator[None]:
        """Renew the leases of the batch leased under `token` while the block runs."""
        # A timer, not a task: most batches are sent long before their first renewal is due,
        # and a task started and cancelled for each would cost more than many a send.
        loop = asyncio.get_running_loop()
        renewing: list[asyncio.Task[None]] = []
        first = self.length.total_seconds() / 3
        due = loop.call_later(first, lambda: renewing.append(loop.create_task(self._renew(token))))
        try:
            yield
        finally:
            due.cancel()
            for task in renewing:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _renew(self, token: str) -> None:
        """Renew now, then every third of the lease's length, until cancelled or lost."""
        while True:
            try:
                held = await self._db.run(lambda uow: self._extend(uow, token))
            except Exception:  # the database away for a moment: try at the next third
                log.exception("the leases of outbox batch %s could not be renewed", token)
            else:
                if not held:
                    log.warning("outbox batch %s: the leases were lost during the sends", token)
                    return
            await asyncio.sleep(self.length.total_seconds() / 3)

    async def _extend(self, uow: UnitOfWork, token: str) -> int:
        held = await uow.outbox.renew_batch(token, self._clock() + self.length)
        await uow.commit()
        return held
