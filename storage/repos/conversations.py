"""Conversations: the state of each thread, read and written inside the turn's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from bot.records import Conversation, ConversationState, FlowData
from storage.connection import SqlConnection
from storage.repos import messages as message_rows
from storage.repos.reps import rep_at_address
from storage.sql import insert_ignore
from storage.tables import conversations, identities, messages


class StaleConversation(Exception):
    """The conversation changed under us (version mismatch); the turn must be retried."""


def conversation_from_row(row: Row[Any], *, created: bool = False) -> Conversation:
    state = ConversationState(
        state=row.state,
        step=row.step,
        # The JSON this program wrote; keys a newer or older version used are carried along.
        data=cast(FlowData, dict(row.data or {})),
        language=row.language,
        misses=row.misses,
    )
    return Conversation(
        id=row.id,
        contact_id=row.contact_id,
        channel=row.channel,
        thread_key=row.thread_key,
        address=row.address,
        subject=row.subject,
        rep_id=row.rep_id,
        version=row.version,
        current=state,
        created=created,
        reachable=row.reachable is not False,
        address_rep_id=row.address_rep_id,
        active_slot=row.active_slot,
        last_sequence=row.last_sequence,
    )


def _with_context() -> Select[Any]:
    """Conversations with whether their address is reachable and whether it is a rep's,
    in the one statement every turn runs anyway."""
    identity = and_(
        identities.c.channel == conversations.c.channel,
        identities.c.address == conversations.c.address,
    )
    address_rep = rep_at_address(conversations).label("address_rep_id")
    columns = (*conversations.c, identities.c.reachable, address_rep)
    return select(*columns).outerjoin(identities, identity)


def _locked(query: Select[Any]) -> Select[Any]:
    # PostgreSQL: the row lock serialises turns of one conversation across instances, and under
    # READ COMMITTED a locking read returns the row as the previous turn committed it.
    # SQLite ignores it (one writer; transactions begin IMMEDIATE).
    return query.with_for_update(of=conversations)


def _find(prefix: str = "") -> Select[Any]:
    return _with_context().where(
        conversations.c.channel == bindparam(f"{prefix}channel"),
        conversations.c.thread_key == bindparam(f"{prefix}thread_key"),
    )


FIND = _find()
FIND_LOCKED = _locked(FIND)
GET = _with_context().where(conversations.c.id == bindparam("conversation_id"))
# By ix_conversations_address: a turn by mail looks for the address's threads by subject.
RECENT_SUBJECTS = (
    select(conversations.c.id, conversations.c.subject)
    .where(
        conversations.c.channel == bindparam("channel"),
        conversations.c.address == bindparam("address"),
        conversations.c.updated_at >= bindparam("since"),
    )
    .order_by(conversations.c.updated_at.desc())
    .limit(20)
)
GET_LOCKED = _locked(GET)
OPEN = insert_ignore(conversations, ["channel", "thread_key"])
ADVANCE = (
    update(conversations)
    .where(conversations.c.id == bindparam("conversation_id"))
    .values(last_sequence=bindparam("sequence"))
)
SAVE = update(conversations).where(
    conversations.c.id == bindparam("conversation_id"),
    conversations.c.version == bindparam("read_version"),
)


def takes_in_order(conversation: Conversation, sequence: int | None) -> bool:
    """An inbound message of `sequence` is stored and answered in `conversation` as it comes:
    the conversation is a customer's (not at a rep's address) and the message is not late."""
    return conversation.address_rep_id is None and not conversation.handled_after(sequence)


STORING = "in_"  # the prefix of FIND_STORING's parameters


def _find_storing() -> Select[Any]:
    """PostgreSQL: `FIND_LOCKED`, and in the same statement what `takes_in_order` then decides
    in Python: the message stored in the conversation found (its id, or NULL when its key is
    stored already) and its sequence taken as the newest handled. Saves the turn a round trip.

    Every parameter is named `in_...`: SQLAlchemy would take one named as a column of the
    conversations (`channel`) for a value the UPDATE inside must also SET."""
    found = _locked(_find(STORING)).cte("found")
    sequence = bindparam(f"{STORING}sequence", type_=BigInteger)
    in_order = or_(
        sequence.is_(None),
        found.c.last_sequence.is_(None),
        sequence >= found.c.last_sequence,
    )
    names = ["external_id", "direction", "text", "payload", "raw", "created_at", "held"]
    values = [bindparam(f"{STORING}{name}", type_=messages.c[name].type) for name in names]
    row = select(found.c.channel, found.c.id, *values).where(
        found.c.address_rep_id.is_(None), in_order
    )
    stored = (
        postgresql.insert(messages)
        .from_select(["channel", "conversation_id", *names], row)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(messages.c.id)
        .cte("stored")
    )
    advanced = (
        update(conversations)
        .where(
            conversations.c.id == found.c.id,
            exists(select(stored.c.id)),
            found.c.last_sequence.is_distinct_from(sequence),
            sequence.is_not(None),
        )
        .values(last_sequence=sequence)
        .cte("advanced")
    )
    stored_id = select(stored.c.id).scalar_subquery().label("stored_id")
    return select(*found.c, stored_id).add_cte(advanced)


FIND_STORING = _find_storing()


@dataclass(frozen=True, slots=True)
class Arrival:
    """The conversation found for an inbound message, and whether the message is stored in it."""

    conversation: Conversation | None
    tried: bool = False  # `takes_in_order`: the message's insert ran (and advanced the sequence)
    message_id: int | None = None  # the message stored; None when tried and already stored


def _saved(conversation_id: int, count: int) -> None:
    if count != 1:
        raise StaleConversation(f"conversation {conversation_id} changed during the turn")


class ConversationRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def find(
        self, channel: str, thread_key: str, *, lock: bool = False
    ) -> Conversation | None:
        """The conversation of a thread; `lock` holds it until the transaction ends."""
        parameters = {"channel": channel, "thread_key": thread_key}
        row = (await self._db.execute(FIND_LOCKED if lock else FIND, parameters)).first()
        return conversation_from_row(row) if row else None

    async def find_storing(
        self, thread_key: str, message: Mapping[str, Any], sequence: int | None
    ) -> Arrival:
        """`find(..., lock=True)` for an inbound message's thread, and when the conversation
        `takes_in_order` the message (its `messages.inbound_row`), the message stored as
        `MessageRepository.insert` does and its `sequence` advanced: one statement on
        PostgreSQL. The caller adds the message's files."""
        if self._db.dialect.name != "postgresql":
            return await self._find_then_store(thread_key, message, sequence)
        given = {**message, "thread_key": thread_key, "sequence": sequence}
        parameters = {STORING + name: value for name, value in given.items()}
        row = (await self._db.execute(FIND_STORING, parameters)).first()
        if row is None:
            return Arrival(None)
        conversation = conversation_from_row(row)
        if not takes_in_order(conversation, sequence):
            return Arrival(conversation)
        return Arrival(conversation, tried=True, message_id=row.stored_id)

    async def _find_then_store(
        self, thread_key: str, message: Mapping[str, Any], sequence: int | None
    ) -> Arrival:
        conversation = await self.find(str(message["channel"]), thread_key, lock=True)
        if conversation is None or not takes_in_order(conversation, sequence):
            return Arrival(conversation)
        values = {**message, "conversation_id": conversation.id}
        inserted = await self._db.execute(message_rows.INSERT.on(self._db), values)
        message_id: int | None = inserted.scalar_one_or_none()
        if message_id is not None:
            await self.advance_past(conversation, sequence)
        return Arrival(conversation, tried=True, message_id=message_id)

    async def get(self, conversation_id: int, *, lock: bool = False) -> Conversation | None:
        parameters = {"conversation_id": conversation_id}
        row = (await self._db.execute(GET_LOCKED if lock else GET, parameters)).first()
        return conversation_from_row(row) if row else None

    async def open(
        self,
        *,
        contact_id: int,
        channel: str,
        thread_key: str,
        address: str,
        language: str,
        subject: str | None,
        now: datetime,
        sequence: int | None = None,
    ) -> Conversation:
        """Create the conversation unless it exists; return it either way. A new one starts
        at `sequence`, its first message's (so that turn need not advance it)."""
        values = {
            "contact_id": contact_id,
            "channel": channel,
            "thread_key": thread_key,
            "address": address,
            "language": language,
            "subject": subject,
            "data": {},
            "created_at": now,
            "updated_at": now,
            "last_sequence": sequence,
        }
        inserted = (await self._db.execute(OPEN.on(self._db), values)).rowcount == 1
        found = await self.find(channel, thread_key, lock=True)
        assert found is not None
        return replace(found, created=inserted)

    async def save(
        self, conversation: Conversation, state: ConversationState, now: datetime
    ) -> None:
        """Write the new state if nobody else did since we read it (optimistic version check):
        `StaleConversation` otherwise, raised here or, the write held back (PostgreSQL), by the
        transaction's next statement or commit at the latest."""
        parameters = {
            "conversation_id": conversation.id,
            "read_version": conversation.version,
            "state": state.state,
            "step": state.step,
            "data": state.data,
            "language": state.language,
            "misses": state.misses,
            "version": conversation.version + 1,
            "updated_at": now,
        }
        await self._db.defer(SAVE, parameters, check=partial(_saved, conversation.id))

    async def advance_past(self, conversation: Conversation, sequence: int | None) -> None:
        """Remember a message of `sequence`, handled in order, as the conversation's newest
        (nothing to do without a sequence, or when the conversation starts at it already)."""
        if sequence is not None and sequence != conversation.last_sequence:
            await self.advance_sequence(conversation.id, sequence)

    async def advance_sequence(self, conversation_id: int, sequence: int) -> None:
        """Remember `sequence` as the highest handled in order. The caller holds the row lock
        and has compared: the version stays, this is no change of state."""
        parameters = {"conversation_id": conversation_id, "sequence": sequence}
        await self._db.defer(ADVANCE, parameters)

    async def recent_subjects(
        self, channel: str, address: str, since: datetime
    ) -> list[tuple[int, str | None]]:
        """The ids and subjects of the address's conversations active since `since`, most
        recent first: what threading by subject compares, without reading their state."""
        parameters = {"channel": channel, "address": address, "since": since}
        rows = await self._db.execute(RECENT_SUBJECTS, parameters)
        return [(row.id, row.subject) for row in rows]

    async def for_contact(self, contact_id: int) -> list[Conversation]:
        query = _with_context().where(conversations.c.contact_id == contact_id)
        rows = await self._db.execute(query.order_by(conversations.c.id))
        return [conversation_from_row(row) for row in rows]
