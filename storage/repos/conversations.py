"""Conversations: the state of each thread, read and written inside the turn's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.records import Conversation, ConversationState
from storage.sql import insert_ignore
from storage.tables import contacts, conversations


class StaleConversation(Exception):
    """The conversation changed under us (version mismatch); the turn must be retried."""


def conversation_from_row(row: Row[Any], *, created: bool = False) -> Conversation:
    state = ConversationState(
        state=row.state,
        step=row.step,
        data=dict(row.data or {}),
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
    )


class ConversationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def find(self, channel: str, thread_key: str) -> Conversation | None:
        query = conversations.select().where(
            conversations.c.channel == channel, conversations.c.thread_key == thread_key
        )
        row = (await self._db.execute(query)).first()
        return conversation_from_row(row) if row else None

    async def get(self, conversation_id: int) -> Conversation | None:
        query = conversations.select().where(conversations.c.id == conversation_id)
        row = (await self._db.execute(query)).first()
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
    ) -> Conversation:
        """Create the conversation unless it exists; return it either way."""
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
        }
        statement = insert_ignore(self._db, conversations, ["channel", "thread_key"]).values(values)
        inserted = (await self._db.execute(statement)).rowcount == 1
        found = await self.find(channel, thread_key)
        assert found is not None
        return replace(found, created=inserted)

    async def save(
        self, conversation: Conversation, state: ConversationState, now: datetime
    ) -> None:
        """Write the new state if nobody else did since we read it (optimistic version check)."""
        statement = (
            update(conversations)
            .where(
                conversations.c.id == conversation.id,
                conversations.c.version == conversation.version,
            )
            .values(
                state=state.state,
                step=state.step,
                data=state.data,
                language=state.language,
                misses=state.misses,
                version=conversation.version + 1,
                updated_at=now,
            )
        )
        if (await self._db.execute(statement)).rowcount != 1:
            raise StaleConversation(f"conversation {conversation.id} changed during the turn")

    async def assign_rep(self, conversation_id: int, rep_id: int | None) -> None:
        await self._db.execute(
            update(conversations).where(conversations.c.id == conversation_id).values(rep_id=rep_id)
        )

    async def for_contact(self, contact_id: int) -> list[Conversation]:
        query = conversations.select().where(conversations.c.contact_id == contact_id)
        rows = await self._db.execute(query.order_by(conversations.c.id))
        return [conversation_from_row(row) for row in rows]

    async def contact_name(self, conversation_id: int) -> str:
        query = (
            select(contacts.c.display_name)
            .join(conversations, conversations.c.contact_id == contacts.c.id)
            .where(conversations.c.id == conversation_id)
        )
        return str((await self._db.execute(query)).scalar_one_or_none() or "")
