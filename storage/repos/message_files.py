"""The files kept with an inbound message, in the order the channel gave them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from storage.connection import SqlConnection
from storage.tables import message_files

StoredFile = tuple[str, str, bytes]  # (name, MIME type, content)


class MessageFileRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def add(self, message_id: int, files: Sequence[StoredFile], now: datetime) -> None:
        if not files:
            return
        rows = [
            {
                "message_id": message_id,
                "name": name,
                "mime_type": mime,
                "data": data,
                "created_at": now,
            }
            for name, mime, data in files
        ]
        await self._db.execute(message_files.insert(), rows)

    async def of(self, message_id: int) -> list[StoredFile]:
        query = (
            select(message_files.c.name, message_files.c.mime_type, message_files.c.data)
            .where(message_files.c.message_id == message_id)
            .order_by(message_files.c.id)
        )
        return [(row.name, row.mime_type, row.data) for row in await self._db.execute(query)]
