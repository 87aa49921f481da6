"""The dispatcher: one inbound message = one transaction (ARCHITECTURE.md, "The flow").

Guarantees:
- `accept` returns only after the turn is committed (or the message is parked), so an adapter
  may acknowledge the message to its source as soon as `accept` returns;
- it is idempotent on `(channel, external_id)`: a redelivered message changes nothing;
- messages of one conversation are processed one at a time, in arrival order (an in-process
  lock, plus a PostgreSQL advisory lock for several instances);
- a message that makes the turn fail is parked as a dead letter and reported as `PARKED`;
  if the database itself is unavailable, `accept` raises and the adapter must not acknowledge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from bot.intents import IntentMatcher
from bot.keyed_lock import KeyedLock
from bot.language import language_for
from bot.model import AcceptResult, Address, InboundMessage, Outcome, Sender, utc_now
from bot.recording import record_turn
from bot.router import Routed, route
from bot.turn import Context, Event, FlowConfig, Result, Turn
from handlers import identity, timers
from handlers.texts import Texts
from storage.records import Conversation
from storage.repos.conversations import StaleConversation
from storage.repos.followups import retry_delay
from storage.repos.touchpoints import NewTouchpoint
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

SystemAction = Callable[[Turn, Context], Awaitable[Result | None]]

# The database is down or unreachable: the message must be redelivered, not parked.
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, OSError, TimeoutError)
MAX_TIMER_ATTEMPTS = 5


def is_unavailable(error: Exception) -> bool:
    """The database is down or the connection broke during the turn: not the message's fault.

    A connection lost in the middle of a statement (a server restart, a failover) surfaces from
    asyncpg as a plain `DBAPIError` that SQLAlchemy marks `connection_invalidated`.
    """
    invalidated = isinstance(error, DBAPIError) and error.connection_invalidated
    return invalidated or isinstance(error, UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers need besides the transaction; built once in the composition root."""

    texts: Texts
    matcher: IntentMatcher
    config: FlowConfig


class Dispatcher:
    def __init__(
        self,
        database: Database,
        services: Services,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = database
        self._services = services
        self._clock = clock
        self._on_commit = on_commit
        self._locks = KeyedLock()

    async def accept(self, message: InboundMessage) -> AcceptResult:
        async with self._locks.hold(message.channel, message.conversation_key):
            try:
                return await self._turn_with_retry(message)
            except Exception as error:
                if is_unavailable(error):
                    raise
                log.exception("parking %s message %s", message.channel, message.external_id)
                return await self._park(message, error)

    async def _turn_with_retry(self, message: InboundMessage) -> AcceptResult:
        try:
            return await self._turn(message)
        except StaleConversation:
            # Another instance changed the conversation between our read and write: once more.
            return await self._turn(message)

    async def _turn(self, message: InboundMessage) -> AcceptResult:
        async with self._db.transaction(message.channel, message.conversation_key) as uow:
            now = self._clock()
            conversation = await self._conversation_for(uow, message, now)
            if message.edit_of is not None:
                return await self._edit(uow, message, conversation, now)
            message_id = await self._store(uow, message, conversation.id, now)
            if message_id is None:
                return AcceptResult(Outcome.DUPLICATE, conversation_id=conversation.id)
            replies = await self._handle(uow, message, message_id, conversation, now)
            await uow.commit()
        self._on_commit()
        return AcceptResult(Outcome.HANDLED, replies=replies, conversation_id=conversation.id)

    async def _handle(
        self,
        uow: UnitOfWork,
        message: InboundMessage,
        message_id: int,
        conversation: Conversation,
        now: datetime,
    ) -> int:
        ctx = self._context(uow)
        lang = language_for(message, conversation, self._services.config.default_language)
        turn = Turn(message, message_id, conversation, lang, now)
        reachable_again = await _reachable_again(uow, conversation)
        linked = await identity.claim_verified_phone(turn, ctx)
        if linked.conversation is not None:
            turn = replace(turn, conversation=linked.conversation)
        routed = await route(turn, ctx)
        events = (*reachable_again, *linked.events)
        routed = replace(routed, result=_with_events(routed.result, events))
        return await record_turn(uow, turn, routed)

    async def _conversation_for(
        self, uow: UnitOfWork, message: InboundMessage, now: datetime
    ) -> Conversation:
        found = await uow.conversations.find(message.channel, message.conversation_key)
        if found is not None:
            return found
        contact_id = await uow.contacts.owner_of(message.channel, message.sender.external_id)
        if contact_id is None:
            contact_id = await self._new_contact(uow, message, now)
        return await uow.conversations.open(
            contact_id=contact_id,
            channel=message.channel,
            thread_key=message.conversation_key,
            address=message.address.value,
            language=language_for(message, None, self._services.config.default_language),
            subject=message.subject or None,
            now=now,
        )

    async def _new_contact(self, uow: UnitOfWork, message: InboundMessage, now: datetime) -> int:
        lang = language_for(message, None, self._services.config.default_language)
        contact_id = await uow.contacts.create(message.sender.display_name, lang, now)
        link = await uow.contacts.link(contact_id, message.channel, message.sender.external_id, now)
        if link.outcome == "conflict":
            # A concurrent turn of another thread of the same sender (PostgreSQL runs those at
            # once) created the person first: join that contact instead of splitting the person.
            await uow.contacts.delete(contact_id)
        return link.owner_contact_id

    async def _store(
        self, uow: UnitOfWork, message: InboundMessage, conversation_id: int, now: datetime
    ) -> int | None:
        return await uow.messages.insert(
            channel=message.channel,
            external_id=message.external_id,
            conversation_id=conversation_id,
            direction="in",
            text=message.text,
            payload=message.raw,
            raw=message.raw_bytes,
            now=now,
        )

    async def _edit(
        self, uow: UnitOfWork, message: InboundMessage, conversation: Conversation, now: datetime
    ) -> AcceptResult:
        """An edited message updates the stored one; it is never routed as a new request."""
        assert message.edit_of is not None
        if await self._store(uow, message, conversation.id, now) is None:
            return AcceptResult(Outcome.DUPLICATE, conversation_id=conversation.id)
        original = await uow.messages.find_id(message.channel, message.edit_of)
        if original is not None:
            await uow.messages.apply_edit(original, message.text, now)
        details = {"external_id": message.edit_of, "known": original is not None}
        await uow.touchpoints.add(
            [_touchpoint(conversation, "message_edited", "customer", now, details)]
        )
        await uow.commit()
        return AcceptResult(Outcome.EDITED, conversation_id=conversation.id)

    async def _park(self, message: InboundMessage, error: Exception) -> AcceptResult:
        reason = f"{type(error).__name__}: {error}"[:2000]
        async with self._db.transaction() as uow:
            now = self._clock()
            if await uow.dead_letters.find(message.channel, message.external_id) is None:
                await uow.dead_letters.park(
                    channel=message.channel,
                    external_id=message.external_id,
                    error=reason,
                    payload=message.raw,
                    raw=message.raw_bytes,
                    now=now,
                )
                details = {"external_id": message.external_id, "error": reason}
                await uow.touchpoints.add(
                    [NewTouchpoint("parked", message.channel, "system", now, details=details)]
                )
            await uow.commit()
        return AcceptResult(Outcome.PARKED)

    # --- turns without an inbound message: timers and operator actions ---------------------

    async def fire_timer(self, followup_id: int) -> bool:
        """Fire one due timer in its own turn; False when it did not fire now.

        A timer whose handler fails is retried later with backoff and given up after
        `MAX_TIMER_ATTEMPTS`, with a `timer_failed` touchpoint.
        """
        key = await self._timer_conversation_key(followup_id)
        async with self._locks.hold(*key):
            try:
                fired = await self._fire(followup_id, key)
            except Exception as error:
                if is_unavailable(error):
                    raise
                log.exception("timer %s failed", followup_id)
                await self._timer_failed(followup_id, error)
                return False
        if fired:
            self._on_commit()
        return fired

    async def _fire(self, followup_id: int, key: tuple[str, str]) -> bool:
        async with self._db.transaction(*key) as uow:
            now = self._clock()
            timer = await uow.followups.take(followup_id, now)
            if timer is None:
                return False
            conversation = await uow.conversations.get(timer.conversation_id or 0)
            if conversation is not None:
                result = await timers.on_timer(self._context(uow), conversation, timer, now)
                await record_turn(uow, _system_turn(conversation, now), Routed(result))
            await uow.commit()
        return True

    async def _timer_failed(self, followup_id: int, error: Exception) -> None:
        async with self._db.transaction() as uow:
            now = self._clock()
            attempts = await uow.followups.attempts_of(followup_id)
            give_up = attempts + 1 >= MAX_TIMER_ATTEMPTS
            await uow.followups.defer(followup_id, now + retry_delay(attempts), give_up=give_up)
            if give_up:
                details = {"timer": followup_id, "error": f"{type(error).__name__}: {error}"[:2000]}
                await uow.touchpoints.add(
                    [NewTouchpoint("timer_failed", "system", "system", now, details=details)]
                )
            await uow.commit()

    async def system_turn(self, conversation_id: int, action: SystemAction) -> bool:
        """Run an operator or rep action on a conversation as a turn of its own.

        `action` returns None when it does not apply (e.g. the hand-off already ended); then
        nothing is written and the result is False.
        """
        key = await self._conversation_key(conversation_id)
        async with self._locks.hold(*key), self._db.transaction(*key) as uow:
            conversation = await uow.conversations.get(conversation_id)
            if conversation is None:
                return False
            turn = _system_turn(conversation, self._clock())
            result = await action(turn, self._context(uow))
            if result is None:
                return False
            await record_turn(uow, turn, Routed(result))
            await uow.commit()
        self._on_commit()
        return True

    async def _conversation_key(self, conversation_id: int) -> tuple[str, str]:
        async with self._db.transaction() as uow:
            conversation = await uow.conversations.get(conversation_id)
        return (
            (conversation.channel, conversation.thread_key)
            if conversation
            else ("none", str(conversation_id))
        )

    async def _timer_conversation_key(self, followup_id: int) -> tuple[str, str]:
        async with self._db.transaction() as uow:
            conversation_id = await uow.followups.conversation_of(followup_id)
        return await self._conversation_key(conversation_id or 0)

    def _context(self, uow: UnitOfWork) -> Context:
        services = self._services
        return Context(uow, services.texts, services.matcher, services.config)


async def _reachable_again(uow: UnitOfWork, conversation: Conversation) -> tuple[Event, ...]:
    """A message from an address marked unreachable proves it works again (the customer
    unblocked the bot, the mailbox is back): without this, nothing would ever reach them."""
    channel, address = conversation.channel, conversation.address
    if await uow.contacts.is_reachable(channel, address):
        return ()
    await uow.contacts.set_reachable(channel, address, None)
    return (Event("reachable_again", {"address": address}, "system"),)


def _with_events(result: Result, events: tuple[Event, ...]) -> Result:
    return replace(result, events=(*events, *result.events)) if events else result


def _system_turn(conversation: Conversation, now: datetime) -> Turn:
    """A turn started by the system (a timer, an operator), not by an inbound message."""
    address = Address(conversation.channel, conversation.address)
    message = InboundMessage(external_id="", address=address, sender=Sender(external_id=""))
    return Turn(message, None, conversation, conversation.current.language, now)


def _touchpoint(
    conversation: Conversation, kind: str, actor: str, now: datetime, details: dict[str, object]
) -> NewTouchpoint:
    return NewTouchpoint(
        kind=kind,
        channel=conversation.channel,
        actor=actor,
        occurred_at=now,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        details=dict(details),
    )
