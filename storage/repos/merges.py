"""Merges of contacts: one person found to be two contacts is joined, and can be separated.

A merge moves a contact's identities, conversations, leads, tickets and hand-offs to another
contact and keeps the ids of the rows it moved; undoing it moves exactly those rows back.
Touchpoints stay as they were written (history is not rewritten): `absorbed` gives the
contacts whose touchpoints make up one contact's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, and_, or_, select, update

from bot.records import ContactMerge
from storage.connection import SqlConnection
from storage.tables import (
    contact_merges,
    contacts,
    conversations,
    handoffs,
    identities,
    leads,
    service_requests,
)

MOVED_WITH_A_CONTACT = (identities, conversations, leads, service_requests, handoffs)
STANDING = contact_merges.c.undone_at.is_(None)


def merge_from_row(row: Row[Any]) -> ContactMerge:
    moved = {table: [int(i) for i in ids] for table, ids in dict(row.moved or {}).items()}
    return ContactMerge(
        id=row.id,
        source_contact_id=row.source_contact_id,
        target_contact_id=row.target_contact_id,
        moved=moved,
        merged_at=row.merged_at,
        undone_at=row.undone_at,
    )


def absorbed(contact_id: int) -> Select[tuple[int]]:
    """The contact and every contact merged into it by a merge not undone, at any depth."""
    found = select(contacts.c.id).where(contacts.c.id == contact_id).cte("absorbed", recursive=True)
    merged_in = select(contact_merges.c.source_contact_id).where(
        contact_merges.c.target_contact_id == found.c.id, STANDING
    )
    found = found.union(merged_in)  # UNION, not UNION ALL: a cycle of merges still ends
    return select(found.c.id)


class MergeRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def merge(self, source_id: int, target_id: int, now: datetime) -> int:
        """Move everything of `source_id` but its touchpoints onto `target_id` (a verified
        proof of one person); returns the merge's id.

        The source contact row stays (empty), so that the merge can be undone.
        """
        moved = {
            table.name: await self._move(table, source_id, target_id)
            for table in MOVED_WITH_A_CONTACT
        }
        statement = contact_merges.insert().values(
            source_contact_id=source_id, target_contact_id=target_id, moved=moved, merged_at=now
        )
        return int((await self._db.execute(statement.returning(contact_merges.c.id))).scalar_one())

    async def undo(self, merge: ContactMerge, now: datetime) -> bool:
        """Move the rows `merge` moved back to its source and mark it undone; False, with
        nothing changed, when it was undone already (two operators at once: one wins).

        Rows created for the target since the merge stay with the target. A moved row that is
        no longer the target's stays where it is: the caller checks `standing_out_of` first.
        """
        mark = update(contact_merges).where(contact_merges.c.id == merge.id, STANDING)
        if (await self._db.execute(mark.values(undone_at=now))).rowcount != 1:
            return False
        for table in MOVED_WITH_A_CONTACT:
            ids = merge.moved.get(table.name, [])
            await self._move(table, merge.target_contact_id, merge.source_contact_id, only=ids)
        return True

    async def get(self, merge_id: int) -> ContactMerge | None:
        query = contact_merges.select().where(contact_merges.c.id == merge_id)
        row = (await self._db.execute(query)).first()
        return merge_from_row(row) if row else None

    async def of_contact(self, contact_id: int) -> list[ContactMerge]:
        """Merges into and out of the contact, undone or not, oldest first."""
        query = contact_merges.select().where(
            or_(
                contact_merges.c.source_contact_id == contact_id,
                contact_merges.c.target_contact_id == contact_id,
            )
        )
        rows = await self._db.execute(query.order_by(contact_merges.c.id))
        return [merge_from_row(row) for row in rows]

    async def standing_out_of(self, contact_id: int) -> ContactMerge | None:
        """The merge, not undone, that joined this contact into another one."""
        query = contact_merges.select().where(
            contact_merges.c.source_contact_id == contact_id, STANDING
        )
        row = (await self._db.execute(query.order_by(contact_merges.c.id.desc()))).first()
        return merge_from_row(row) if row else None

    async def were_separated(self, one: int, other: int) -> bool:
        """Whether a merge of these two contacts (either way) was undone: someone decided
        that they are two people."""
        source, target = contact_merges.c.source_contact_id, contact_merges.c.target_contact_id
        pair = or_(and_(source == one, target == other), and_(source == other, target == one))
        query = select(contact_merges.c.id).where(pair, contact_merges.c.undone_at.is_not(None))
        return (await self._db.execute(query.limit(1))).first() is not None

    async def _move(
        self, table: Table, from_id: int, to_id: int, only: list[int] | None = None
    ) -> list[int]:
        statement = update(table).where(table.c.contact_id == from_id)
        if only is not None:
            if not only:
                return []
            statement = statement.where(table.c.id.in_(only))
        rows = await self._db.execute(statement.values(contact_id=to_id).returning(table.c.id))
        return sorted(int(row_id) for (row_id,) in rows)
