"""Messages, unique on (channel, external_id): the idempotency key of every inbound turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, and_, bindparam, func, select, update

from storage.connection import SqlConnection
from storage.sql import in_key_order, insert_ignore
from storage.tables import conversations, messages

INSERT = insert_ignore(messages, ["channel", "external_id"], returning=[messages.c.id])
INSERT_MANY = insert_ignore(messages, ["channel", "external_id"])
FIND_ID = select(messages.c.id).where(
    messages.c.channel == bindparam("channel"), messages.c.external_id == bindparam("external_id")
)


def inbound_row(
    *,
    channel: str,
    external_id: str,
    text: str,
    now: datetime,
    payload: Mapping[str, object] | None = None,
    raw: bytes | None = None,
    held: bool = False,
) -> dict[str, Any]:
    """The values of an inbound message's row, but its conversation."""
    return {
        "held": held,
        "channel": channel,
        "external_id": external_id,
        "direction": "in",
        "text": text,
        "payload": dict(payload) if payload is not None else None,
        "raw": raw,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class OutboundStored:
    channel: str
    external_id: str
    conversation_id: int | None
    text: str


class MessageRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def insert(
        self,
        *,
        channel: str,
        external_id: str,
        conversation_id: int | None,
        direction: str,
        text: str,
        now: datetime,
        payload: Mapping[str, object] | None = None,
        raw: bytes | None = None,
        held: bool = False,
    ) -> int | None:
        """Store a message; None when `(channel, external_id)` is already stored."""
        row = inbound_row(
            channel=channel,
            external_id=external_id,
            text=text,
            now=now,
            payload=payload,
            raw=raw,
            held=held,
        )
        values = {**row, "conversation_id": conversation_id, "direction": direction}
        result = await self._db.execute(INSERT.on(self._db), values)
        message_id: int | None = result.scalar_one_or_none()
        return message_id

    async def insert_outbound(self, sent: Sequence[OutboundStored], now: datetime) -> None:
        """Store the replies a relay delivered (a repeated key is kept): nothing reads them
        back in the relay's transaction, so they are held and go with its touchpoints."""
        if not sent:
            return
        values = [
            {
                "held": False,
                "channel": item.channel,
                "external_id": item.external_id,
                "conversation_id": item.conversation_id,
                "direction": "out",
                "text": item.text,
                "payload": None,
                "raw": None,
                "created_at": now,
            }
            for item in sent
        ]
        inserting = INSERT_MANY.on(self._db)
        assert isinstance(inserting, Insert)  # either dialect's spelling
        await self._db.defer(inserting, values)

    async def find_id(self, channel: str, external_id: str) -> int | None:
        parameters = {"channel": channel, "external_id": external_id}
        message_id: int | None = (await self._db.execute(FIND_ID, parameters)).scalar_one_or_none()
        return message_id

    async def inbound_addresses(
        self, channel: str, external_ids: Sequence[str]
    ) -> set[tuple[str, str]]:
        """(key, address of its conversation) of the stored inbound messages with these keys:
        one look-up in the unique index of (channel, external_id) for them all."""
        if not external_ids:
            return set()
        query = (
            select(messages.c.external_id, conversations.c.address)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(
                messages.c.channel == channel,
                messages.c.external_id.in_(list(external_ids)),
                messages.c.direction == "in",
            )
        )
        return {(row.external_id, row.address) for row in await self._db.execute(query)}

    async def apply_edit(self, message_id: int, text: str, now: datetime) -> None:
        await self._db.execute(
            update(messages).where(messages.c.id == message_id).values(text=text, edited_at=now)
        )

    async def text_of(self, message_id: int) -> str | None:
        query = select(messages.c.text).where(messages.c.id == message_id)
        return (await self._db.execute(query)).scalar_one_or_none()

    async def conversations_of(self, channel: str, external_ids: Sequence[str]) -> list[int]:
        """The conversations of stored messages with these keys, in the keys' order."""
        if not external_ids:
            return []
        query = select(messages.c.external_id, messages.c.conversation_id).where(
            messages.c.channel == channel,
            messages.c.external_id.in_(list(external_ids)),
            messages.c.conversation_id.is_not(None),
        )
        found = {row.external_id: row.conversation_id for row in await self._db.execute(query)}
        return in_key_order(external_ids, found)

    async def last_activity(self, conversation_id: int) -> datetime | None:
        """When the conversation last had a message, either way."""
        query = select(func.max(messages.c.created_at)).where(
            messages.c.conversation_id == conversation_id
        )
        last: datetime | None = (await self._db.execute(query)).scalar_one_or_none()
        return last

    async def original(
        self, message_id: int
    ) -> tuple[str, str, dict[str, Any] | None, bytes | None] | None:
        """(channel, external id, payload, raw bytes) of a stored message, as it came."""
        query = select(
            messages.c.channel, messages.c.external_id, messages.c.payload, messages.c.raw
        ).where(messages.c.id == message_id)
        row = (await self._db.execute(query)).first()
        return (row.channel, row.external_id, row.payload, row.raw) if row else None

    async def last_inbound_header_id(self, conversation_id: int) -> str | None:
        """The newest inbound key of the conversation that is an RFC 5322 Message-ID."""
        query = (
            select(messages.c.external_id)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.direction == "in",
                messages.c.external_id.like("<%>"),
            )
            .order_by(messages.c.id.desc())
            .limit(1)
        )
        found: str | None = (await self._db.execute(query)).scalar_one_or_none()
        return found

    async def release_held(self, conversation_id: int) -> list[str]:
        """The texts held back in a flood, oldest first; they are no longer held after this."""
        held = and_(messages.c.conversation_id == conversation_id, messages.c.held.is_(True))
        query = select(messages.c.text).where(held).order_by(messages.c.id)
        texts = [str(text) for text in (await self._db.execute(query)).scalars()]
        if texts:
            await self._db.execute(update(messages).where(held).values(held=False))
        return texts

    async def holds(self, conversation_id: int, before: int) -> bool:
        """Whether messages of the conversation older than `before` are held."""
        query = select(messages.c.id).where(
            messages.c.conversation_id == conversation_id,
            messages.c.held.is_(True),
            messages.c.id < before,
        )
        return (await self._db.execute(query.limit(1))).first() is not None

    async def inbound_from(
        self, conversation_id: int, first_id: int, limit: int = 500
    ) -> list[str]:
        """The texts a customer wrote in a conversation from message `first_id` on, in order."""
        query = (
            select(messages.c.text)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.direction == "in",
                messages.c.id >= first_id,
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
        return [str(text) for text in (await self._db.execute(query)).scalars()]

    async def inbound_since(
        self, conversation_id: int, since: datetime, limit: int = 200
    ) -> list[tuple[int, str]]:
        """(id, text) of what the customer wrote in a conversation after `since`, in order."""
        query = (
            select(messages.c.id, messages.c.text)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.direction == "in",
                messages.c.created_at > since,
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
        return [(row.id, str(row.text)) for row in await self._db.execute(query)]

    async def recent(self, conversation_id: int, limit: int = 10) -> list[tuple[str, str]]:
        """The last messages of a conversation as (direction, text), oldest first."""
        query = (
            select(messages.c.direction, messages.c.text)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        rows = list(await self._db.execute(query))
        return [(row.direction, row.text) for row in reversed(rows)]
