"""The dispatcher: one inbound message = one transaction (ARCHITECTURE.md, "The flow").

Guarantees:
- `accept` returns only after the turn is committed (or the message is parked), so an adapter
  may acknowledge the message to its source as soon as `accept` returns;
- it is idempotent on `(channel, external_id)`: a redelivered message changes nothing;
- messages of one conversation are processed one at a time, in arrival order (an in-process
  lock, plus on PostgreSQL a row lock on the conversation, which orders several instances);
  one older, by its channel's sequence, than one already handled is stored, not answered
  (`LATE`, bot/late.py);
- a message that makes the turn fail is parked as a dead letter and reported as `PARKED`;
  if the database itself is unavailable, `accept` raises and the adapter must not acknowledge.

Timers and operator actions run as turns of their own (`fire_timer`, `system_turn`), under the
same conversation lock; an operator's change outside any conversation is a `contact_turn`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from bot import inbound, threads
from bot.backoff import full_jitter
from bot.floods import FloodGate
from bot.intake import UNKNOWN_ADDRESS, describe
from bot.keyed_lock import KeyedLock
from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.logs import about
from bot.metrics import TurnObserver, ignore_turn, seconds_since
from bot.model import (
    AcceptResult,
    InboundKind,
    InboundMessage,
    Outcome,
    utc_now,
)
from bot.recorder import Touch, on_contact, queue_notices, record, record_turn
from bot.redaction import redact
from bot.storing import storable
from bot.turn import (
    Action,
    ContactEvent,
    Context,
    OperatorChange,
    Result,
    Routed,
    Services,
    TeamAction,
    TeamChange,
    Turn,
)
from storage.repos.conversations import StaleConversation
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

SystemAction = Callable[[Turn, Context], Awaitable[Result | None]]
ContactAction = Callable[[Context, datetime], Awaitable[Sequence[ContactEvent] | None]]

# The database is down or unreachable: the message must be redelivered, not parked.
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, OSError, TimeoutError)
MAX_TIMER_ATTEMPTS = 5
TIMER_RETRY_BASE = 30.0  # seconds before a failed timer is tried again, doubled per failure
TIMER_RETRY_CAP = 3600.0
NO_CONVERSATION = ("", "")


def is_unavailable(error: Exception) -> bool:
    """The database is down or the connection broke during the turn: not the message's fault.

    A connection lost in the middle of a statement (a server restart, a failover) surfaces from
    asyncpg as a plain `DBAPIError` that SQLAlchemy marks `connection_invalidated`.
    """
    invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
    return invalidated or isinstance(error, UNAVAILABLE)


class Dispatcher:
    def __init__(
        self,
        database: Database,
        services: Services,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_commit: Callable[[Collection[str]], None] = lambda _channels: None,
        on_turn: TurnObserver = ignore_turn,
    ) -> None:
        self._db = database
        self._on_turn = on_turn
        self._services = services
        self._clock = clock
        self._on_commit = on_commit  # told the channels a committed turn queued messages to
        self._locks = KeyedLock()
        config = services.config
        self._floods = FloodGate(
            config.flood_limit, config.flood_window.total_seconds(), lambda: clock().timestamp()
        )

    @property
    def services(self) -> Services:
        return self._services

    async def accept(self, message: InboundMessage) -> AcceptResult:
        """Handle, record or park `message`; raises only when the database is unavailable."""
        start = time.perf_counter()
        try:
            with about(channel=message.channel, message_id=message.external_id):
                result = await self._accept(message)
        except Exception:
            self._on_turn(message.channel, "unavailable", seconds_since(start))
            raise
        self._on_turn(message.channel, result.outcome.value, seconds_since(start))
        return result

    async def _accept(self, message: InboundMessage) -> AcceptResult:
        message = storable(message)
        if message.kind is InboundKind.UNREADABLE:
            return await self._park(message, f"unreadable: {message.reason}")
        try:
            result = await self._threaded_turn(message)
        except Exception as error:
            if is_unavailable(error):
                raise
            log.exception("parking %s message %s", message.channel, message.external_id)
            return await self._park(message, describe(error))
        return result

    async def _threaded_turn(self, message: InboundMessage) -> AcceptResult:
        threading = self._services.capabilities(message.channel).threading
        if message.kind is InboundKind.MESSAGE and threading is not None:
            resolve = partial(threads.resolve, message=message, threading=threading)
            message = await self._db.run(resolve)
        async with self._locks.hold(message.channel, message.conversation_key):
            return await self._turn(message)

    async def _turn(self, message: InboundMessage) -> AcceptResult:
        sender = (message.channel, message.address.value)
        customer = message.kind is InboundKind.MESSAGE and message.edit_of is None
        flooded = customer and self._floods.over(*sender)
        releasing = customer and not flooded and self._floods.releases(*sender)

        async def work(uow: UnitOfWork) -> AcceptResult:
            return await inbound.process(
                uow, self._services, message, self._clock(), flooded=flooded, releasing=releasing
            )

        try:
            result, queued = await self._run_queuing(work)
        except StaleConversation:
            # Another instance changed the conversation between our read and write: once more.
            result, queued = await self._run_queuing(work)
        if result.replies:  # its own channel too: a reply held for the quiet hours may be due
            self._on_commit(queued | {message.channel})
        return result

    async def _run_queuing(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> tuple[T, set[str]]:
        """`work` in one transaction; its value, and the channels it queued messages to."""
        queued: set[str] = set()

        async def noting(uow: UnitOfWork) -> T:
            value = await work(uow)
            queued.update(uow.outbox.queued_to)
            return value

        return await self._db.run(noting), queued

    async def _park(self, message: InboundMessage, error: str) -> AcceptResult:
        """Store the message as a dead letter. Should even that fail for a reason other than
        the database being away, it is parked once more without its parsed payload (the raw
        bytes stay), so that one message can never come back forever."""
        try:
            await self._db.run(partial(self._park_in, message=message, error=error))
        except Exception as failure:
            if is_unavailable(failure):
                raise
            log.exception("parking %s message %s failed", message.channel, message.external_id)
            bare = replace(message, payload={"unstorable_payload": describe(failure)})
            await self._db.run(partial(self._park_in, message=bare, error=error))
        return AcceptResult(Outcome.PARKED)

    async def _park_in(self, uow: UnitOfWork, *, message: InboundMessage, error: str) -> None:
        if await uow.dead_letters.find(message.channel, message.external_id) is not None:
            return
        reason = redact(error)[:2000]
        now = self._clock()
        await uow.dead_letters.park(
            channel=message.channel,
            address=known_address(message),
            external_id=message.external_id,
            error=reason,
            payload=message.payload,
            raw=message.raw,
            now=now,
        )
        details = {"external_id": message.external_id, "error": reason}
        await record(uow, [Touch(Kind.PARKED, Actor.SYSTEM, message.channel, now, details)])
        await uow.commit()

    # --- turns without an inbound message: timers and operator actions ---------------------

    async def fire_timer(self, timer_id: int) -> bool:
        """Fire one due timer in its own turn; False when it did not fire now.

        A timer whose handler fails is retried later with backoff and given up after
        `MAX_TIMER_ATTEMPTS`, with a `timer_failed` touchpoint.
        """
        key = await self._timer_conversation_key(timer_id)
        async with self._locks.hold(*key):
            try:
                fired, queued = await self._run_queuing(lambda uow: self._fire(uow, timer_id))
            except Exception as error:
                if is_unavailable(error):
                    raise
                log.exception("timer %s failed", timer_id)
                reason = redact(describe(error))[:2000]
                await self._db.run(lambda uow: self._timer_failed(uow, timer_id, reason))
                return False
        if fired:
            self._on_commit(queued | {key[0]})
        return fired

    async def _fire(self, uow: UnitOfWork, timer_id: int) -> bool:
        now = self._clock()
        timer = await uow.timers.take(timer_id, now)
        if timer is None:
            return False
        conversation = await uow.conversations.get(timer.conversation_id or 0, lock=True)
        if conversation is not None:
            ctx = self._services.context(uow)
            result = await self._services.business.on_timer(ctx, conversation, timer, now)
            turn = Turn.of_system(conversation, now)
            await record_turn(uow, turn, Routed(result), self._services)
        await uow.commit()
        return True

    async def _timer_failed(self, uow: UnitOfWork, timer_id: int, reason: str) -> None:
        now = self._clock()
        attempts = await uow.timers.attempts_of(timer_id)
        give_up = attempts + 1 >= MAX_TIMER_ATTEMPTS
        delay = full_jitter(attempts + 1, base=TIMER_RETRY_BASE, cap=TIMER_RETRY_CAP)
        await uow.timers.defer(timer_id, now + timedelta(seconds=delay), give_up=give_up)
        if give_up:
            details = {"timer": timer_id, "error": reason}
            await record(uow, [Touch(Kind.TIMER_FAILED, Actor.SYSTEM, "system", now, details)])
        await uow.commit()

    async def system_turn(self, conversation_id: int, action: SystemAction) -> bool:
        """Run an operator or rep action on a conversation as a turn of its own.

        `action` returns None when it does not apply (e.g. the hand-off already ended); then
        nothing is written and the result is False.
        """
        key = await self._db.run(lambda uow: _key_of_conversation(uow, conversation_id))
        async with self._locks.hold(*key):
            done, queued = await self._run_queuing(
                lambda uow: self._system_turn(uow, conversation_id, action)
            )
        if done:
            self._on_commit(queued | {key[0]})
        return done

    async def _system_turn(
        self, uow: UnitOfWork, conversation_id: int, action: SystemAction
    ) -> bool:
        conversation = await uow.conversations.get(conversation_id, lock=True)
        if conversation is None:
            return False
        turn = Turn.of_system(conversation, self._clock())
        result = await action(turn, self._services.context(uow))
        if result is None:
            return False
        await record_turn(uow, turn, Routed(result), self._services)
        await uow.commit()
        return True

    async def contact_turn(self, action: ContactAction, *, channel: str) -> bool:
        """Run an operator's change that belongs to no one conversation (undoing a merge of
        contacts; a ticket without a conversation) in one transaction of its own, its events
        recorded on the contacts' timelines with `channel`.

        The database's row locks order it with the turns of the conversations it touches. An
        exception from `action` rolls everything back and reaches the caller; `action`
        returns None when it does not apply: nothing is written and the result is False.
        """
        return await self._db.run(lambda uow: self._contact_turn(uow, action, channel))

    async def _contact_turn(self, uow: UnitOfWork, action: ContactAction, channel: str) -> bool:
        now = self._clock()
        events = await action(self._services.context(uow), now)
        if events is None:
            return False
        await record(uow, [on_contact(item, channel, now) for item in events])
        await uow.commit()
        return True

    async def operator_turn(self, change: OperatorChange, *, channel: str) -> bool:
        """A person's change: a turn of its conversation, else on its contact's timeline
        (with `channel`); whether it applied."""
        if change.conversation_id is not None:
            return await self.system_turn(change.conversation_id, change.on_conversation)
        if change.on_contact is None:
            return False
        return await self.contact_turn(change.on_contact, channel=channel)

    async def team_turn(
        self, action: TeamAction, *, channel: str
    ) -> tuple[TeamChange, list[bool]] | None:
        """A manager's change to the team, in one transaction of its own: its events recorded
        with `channel`, its notices queued; then its actions on customers' conversations, each
        a turn of its own. None when it did not apply; else the change, and which of its
        customer actions applied. An exception from `action` rolls it back and reaches the
        caller (an address another rep has)."""
        change, queued = await self._run_queuing(lambda uow: self._team_turn(uow, action, channel))
        if change is None:
            return None
        self._on_commit(queued)
        applied = [
            await self.system_turn(step.conversation_id, _finding(step.action))
            for step in change.customer
        ]
        return change, applied

    async def _team_turn(
        self, uow: UnitOfWork, action: TeamAction, channel: str
    ) -> TeamChange | None:
        now = self._clock()
        change = await action(self._services.context(uow), now)
        if change is None:
            return None
        touches = [Touch(e.kind, e.actor, channel, now, e.details) for e in change.events]
        await record(uow, touches)
        await queue_notices(uow, change.notices, self._services, now)
        await uow.commit()
        return change

    async def _timer_conversation_key(self, timer_id: int) -> tuple[str, str]:
        async def work(uow: UnitOfWork) -> tuple[str, str]:
            conversation_id = await uow.timers.conversation_of(timer_id)
            return await _key_of_conversation(uow, conversation_id)

        return await self._db.run(work)


def known_address(message: InboundMessage) -> str | None:
    """Whom a parked message came from, None when its sender could not be read."""
    address = message.address.value
    return None if address == UNKNOWN_ADDRESS else address


def _finding(action: Action) -> SystemAction:
    """A customer action as a system turn's: one that changes nothing does not apply."""

    async def run(turn: Turn, ctx: Context) -> Result | None:
        result = await action(turn, ctx)
        return result if result.replies or result.events or result.notices else None

    return run


async def _key_of_conversation(uow: UnitOfWork, conversation_id: int | None) -> tuple[str, str]:
    conversation = await uow.conversations.get(conversation_id) if conversation_id else None
    return (conversation.channel, conversation.thread_key) if conversation else NO_CONVERSATION
