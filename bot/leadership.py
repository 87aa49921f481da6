"""Leader leases: work that one instance at a time does, among several sharing one database.

Polling a bot token (Telegram answers a second poller with 409 Conflict) and reading a mailbox
are such work. Each is a named lease, a row of `leader_leases`:

- **taken** with one conditional statement: free, expired, or this instance's own from before a
  restart (the holder is the instance's name, stable across restarts, as in the relay's leases:
  bot/leases.py) → this instance's, under a token of its own;
- **renewed** every third of its length while the work runs, under that token only: a holder
  whose lease was taken over cannot renew it, and its work is cancelled at once;
- **let go** when the work ends or the instance stops cleanly, so another takes over at once;
  after a crash the others take over when it expires (its length, `LEADER_TAKEOVER_SECONDS`).

Times are the app's clock, as in the relay's leases: instances' clocks must agree to well within
the lease's length (NTP does). A holder that cannot renew (the database away) stops its work
when its lease runs out by its own clock, before another can take it over by theirs.

What makes a takeover lossless is not the lease: the Telegram offset and the IMAP watermark are
in the database and move only after a turn committed, and a message handed over twice (the old
leader's last poll, the new leader's first) is stored once by its unique key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.model import Work, utc_now
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

RELEASE_SECONDS = 5.0  # a clean stop waits this long at most to let a lease go
SOONEST_RETRY = 0.05  # seconds: a standby never retries more often than this

Pause = Callable[[float], Awaitable[None]]
LeaseObserver = Callable[[str, bool], None]


def ignore_lease(name: str, held: bool) -> None:
    """The observer of leases nobody watches."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What every lease of one instance shares."""

    database: Database
    holder: str
    length: timedelta
    clock: Callable[[], datetime]
    pause: Pause
    changed: LeaseObserver
    # Whether a lease held under this instance's name may be taken as its own from before a
    # restart: not while another process may be running under the name (see `presence`).
    own_allowed: Callable[[], bool]

    @property
    def third(self) -> float:
        return self.length.total_seconds() / 3


class Leadership:
    """This instance's leader leases: builds them, and says which it holds."""

    def __init__(
        self,
        database: Database,
        holder: str,
        length: timedelta,
        *,
        clock: Callable[[], datetime] = utc_now,
        pause: Pause = asyncio.sleep,
        on_change: LeaseObserver = ignore_lease,
    ) -> None:
        self._on_change = on_change
        self._held: dict[str, bool] = {}
        self._presence: LeaderLease | None = None
        self._terms = Terms(
            database, holder, length, clock, pause, self._changed, self._sure_of_its_name
        )

    def lease(self, name: str, *, free_only: bool = False) -> LeaderLease:
        """`free_only`: taken only when free or expired, never as this instance's own from
        before a restart (a lease only processes of this instance's name ever take)."""
        self._changed(name, False)
        return LeaderLease(name, self._terms, free_only=free_only)

    def presence(self, name: str) -> LeaderLease:
        """This process's presence under the instance's name (taken only when free or
        expired). Until it holds it, none of its leases is taken as "its own from before a
        restart": the process under the name that holds them may be running."""
        self._presence = self.lease(name, free_only=True)
        return self._presence

    def _sure_of_its_name(self) -> bool:
        return self._presence is None or self._presence.holding

    def held(self) -> dict[str, bool]:
        """Every lease this instance stands for, and whether it holds it now."""
        return dict(self._held)

    def _changed(self, name: str, held: bool) -> None:
        self._held[name] = held
        self._on_change(name, held)


class LeaderLease:
    """One named lease of this instance (a `bot.model.Leader`)."""

    def __init__(self, name: str, terms: Terms, *, free_only: bool = False) -> None:
        self.name = name
        self._terms = terms
        self._token: str | None = None
        self._expires = terms.clock()
        # Set once another live process under this instance's name took the lease: from then
        # on this one takes it only when free or expired, so the two stop taking it from each
        # other (and stop reclaiming each other's work as "their own from before a restart").
        self._twin_seen = False
        self._free_only = free_only
        self._holder_expiry: datetime | None = None  # as last seen while standing by

    @property
    def holding(self) -> bool:
        return self._token is not None

    @property
    def in_force(self) -> bool:
        """Held, and not run out by this instance's clock: a process that was paused past its
        lease (a stopped VM) holds nothing, even before its heartbeat notices."""
        return self.holding and self._left() > 0

    async def take(self) -> bool:
        """Whether this instance holds the lease now (it was free, expired, or its own)."""
        terms = self._terms
        token, now = f"{terms.holder}:{secrets.token_hex(8)}", terms.clock()
        until = now + terms.length

        async def work(uow: UnitOfWork) -> bool:
            own_too = not (self._twin_seen or self._free_only) and terms.own_allowed()
            taken = await uow.leader_leases.take(
                self.name, terms.holder, token, now, until, own_too=own_too
            )
            await uow.commit()
            return taken

        if await terms.database.run(work):
            self._token, self._expires = token, until
            log.info("lease %s taken by %s until %s", self.name, terms.holder, f"{until:%H:%M:%S}")
            terms.changed(self.name, True)
            return True
        return False

    async def renew(self) -> bool:
        """Extend the lease by its length; False when another instance has taken it over."""
        token, terms = self._token, self._terms
        if token is None:
            return False
        now = terms.clock()

        async def work(uow: UnitOfWork) -> bool:
            held = await uow.leader_leases.renew(self.name, token, now + terms.length)
            await uow.commit()
            return held

        if await terms.database.run(work):
            self._expires = now + terms.length
            return True
        self._lose("was taken over by another instance")
        await self._look_for_a_twin()
        return False

    async def _look_for_a_twin(self) -> None:
        """A lease taken from a live holder by a holder of the same name: two running
        processes share INSTANCE_NAME (a restart's process would not renew any more)."""
        holder = self._terms.holder
        now_held_by = await self._terms.database.run(
            lambda uow: uow.leader_leases.holder(self.name)
        )
        if now_held_by == holder and not self._twin_seen:
            self._twin_seen = True
            log.error(
                "lease %s was taken by another running instance named %r: give every "
                "instance its own INSTANCE_NAME; this one now waits until the lease is free",
                self.name,
                holder,
            )

    async def release(self) -> None:
        """Let the lease go, so another instance takes it over at once."""
        token, self._token = self._token, None
        if token is None:
            return

        async def work(uow: UnitOfWork) -> None:
            await uow.leader_leases.release(self.name, token)
            await uow.commit()

        self._terms.changed(self.name, False)
        await self._terms.database.run(work)
        log.info("lease %s released for another instance to take over", self.name)

    async def run_while_leader(self, work: Work) -> None:
        """See `bot.model.Leader`."""
        while True:
            await self._until_taken()
            if await self._lead(work):
                return

    async def _until_taken(self) -> None:
        waiting = False
        while not await self._took():
            if not waiting:
                log.info("lease %s is held by another instance: standing by", self.name)
                waiting = True
            await self._terms.pause(await self._until_retry())

    async def _took(self) -> bool:
        try:
            return await self.take()
        except Exception:  # the database away for a moment: stand by and try again
            log.exception("lease %s could not be taken", self.name)
            return False

    async def _until_retry(self) -> float:
        """Seconds until the holder's lease runs out, at most a third of the length (it may
        be renewed meanwhile), so a crashed holder is replaced as soon as its lease expires."""
        terms = self._terms
        third = terms.third
        try:
            expires = await terms.database.run(lambda uow: uow.leader_leases.expires_at(self.name))
        except Exception:
            return third
        self._renewed_by_a_twin(expires)
        left = (expires - terms.clock()).total_seconds() if expires else 0.0
        return min(third, max(left, SOONEST_RETRY))

    def _renewed_by_a_twin(self, expires: datetime | None) -> None:
        """A lease only this instance's name takes, renewed while this one stands by: another
        running process has the same INSTANCE_NAME (a crashed one's would only run out)."""
        if not self._free_only or expires is None:
            return
        seen, self._holder_expiry = self._holder_expiry, expires
        if seen is not None and expires > seen and not self._twin_seen:
            self._twin_seen = True
            log.error(
                "another running instance is named %r (lease %s is renewed): give every "
                "instance its own INSTANCE_NAME; this one waits until that one stops",
                self._terms.holder,
                self.name,
            )

    async def _lead(self, work: Work) -> bool:
        """Run `work` while renewing the lease: True when the work ended, False when the lease
        was lost (the work cancelled)."""
        working = asyncio.ensure_future(work())
        beating = asyncio.ensure_future(self._heartbeat())
        try:
            done, _ = await asyncio.wait([working, beating], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(beating, self.name)
            await _cancel(working, self.name)
            if self.holding:  # the work ended, or this instance stops: hand the lease over
                await self._let_go()
        if working not in done:
            return False
        working.result()  # the work's error, if it raised
        return True

    async def _heartbeat(self) -> None:
        """Renew every third of the length until the lease is lost: taken over, or not renewed
        before it ran out by this instance's clock (the database away)."""
        while True:
            await self._terms.pause(min(self._terms.third, self._left()))
            if self._left() <= 0:
                self._lose("ran out before it could be renewed")
                return
            try:
                if not await asyncio.wait_for(self.renew(), self._left()):
                    return
            except Exception as error:  # a timeout included: try again while time is left
                log.warning("lease %s could not be renewed: %r", self.name, error)

    def _left(self) -> float:
        return max((self._expires - self._terms.clock()).total_seconds(), 0.0)

    def _lose(self, why: str) -> None:
        self._token = None
        log.info("lease %s lost: it %s; standing by", self.name, why)
        self._terms.changed(self.name, False)

    async def _let_go(self) -> None:
        with contextlib.suppress(Exception):  # the database away: the lease runs out instead
            await asyncio.wait_for(self.release(), RELEASE_SECONDS)


async def _cancel(task: asyncio.Future[None], name: str) -> None:
    if task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # stopping failed; the lease's standby or its end must go on regardless
        log.exception("the work of lease %s failed as it was stopped", name)


async def until_ready(
    ready: asyncio.Event | None, wakeup: asyncio.Event, stopping: Callable[[], bool]
) -> bool:
    """Wait until `ready` is set (True) or a stop is asked for (False), a stop being told by
    `wakeup` being set and `stopping()` true. No `ready`: True at once."""
    while ready is not None and not ready.is_set() and not stopping():
        wakeup.clear()
        waits = [asyncio.ensure_future(ready.wait()), asyncio.ensure_future(wakeup.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
    return not stopping()
