"""Channel cursors: the Telegram offset, the IMAP (UIDVALIDITY, last UID) watermark, the
terminal's own customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.connection import SqlConnection
from storage.sql import insert_ignore, upsert
from storage.tables import channel_cursors

PUT = upsert(channel_cursors, ["channel", "key"], changing=["value", "updated_at"])
PUT_FIRST = insert_ignore(channel_cursors, ["channel", "key"])


class CursorRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def get(self, channel: str, key: str) -> str | None:
        query = select(channel_cursors.c.value).where(
            channel_cursors.c.channel == channel, channel_cursors.c.key == key
        )
        return (await self._db.execute(query)).scalar_one_or_none()

    async def put(self, channel: str, key: str, value: str, now: datetime) -> None:
        values = {"channel": channel, "key": key, "value": value, "updated_at": now}
        await self._db.execute(PUT.on(self._db), values)

    async def setdefault(self, channel: str, key: str, value: str, now: datetime) -> str:
        """The stored value; `value`, stored, when there is none (the first writer wins)."""
        values = {"channel": channel, "key": key, "value": value, "updated_at": now}
        await self._db.execute(PUT_FIRST.on(self._db), values)
        stored = await self.get(channel, key)
        assert stored is not None
        return stored
