"""Which conversations were active in a period, counted from quarter-hour rollups.

A conversation is active in a period when it had a message in (or was opened) in it. Counting
that from the touchpoints reads every message of the period (half a million in a busy year).
Instead each conversation keeps a row per quarter-hour with such a touchpoint, naming the
quarter-hour before it: a conversation is active in [since, until) exactly when one of its rows
is in it with its previous quarter-hour before `since` — one row per conversation, counted
without DISTINCT. This holds for bounds on whole quarter-hours (UTC), which every day, week and
month of any time zone's calendar is (all offsets are multiples of 15 minutes); other bounds are
counted from the touchpoints.

The row is written by the turn that records the first message of a quarter-hour: the
conversation's row (read and locked by every turn) remembers its latest quarter-hour, so the
other messages of a quarter-hour cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from storage.connection import SqlConnection
from storage.sql import insert_ignore
from storage.tables import conversation_activity, conversations

SLOT_SECONDS = 900
MARK = insert_ignore(conversation_activity, ["conversation_id", "slot"])
REMEMBER = (
    update(conversations)
    .where(conversations.c.id == bindparam("conversation_id"))
    .values(active_slot=bindparam("slot"))
)


def slot_of(moment: datetime) -> datetime:
    """The start of the quarter-hour (UTC) of `moment`."""
    seconds = int(moment.timestamp()) // SLOT_SECONDS * SLOT_SECONDS
    return datetime.fromtimestamp(seconds, UTC)


def on_slot(moment: datetime) -> bool:
    return moment.timestamp() % SLOT_SECONDS == 0


def activity_rows(
    moments: Iterable[tuple[int, str, datetime]],
) -> Iterator[dict[str, Any]]:
    """The rollup rows of (conversation id, channel, moment) activities given in time order
    within each conversation: what the turns would have written one by one."""
    latest: dict[int, datetime] = {}
    for conversation_id, channel, moment in moments:
        slot, previous = slot_of(moment), latest.get(conversation_id)
        if previous is None or slot > previous:
            latest[conversation_id] = slot
            yield {
                "conversation_id": conversation_id,
                "slot": slot,
                "previous": previous,
                "channel": channel,
            }


class ActivityRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def mark(
        self, conversation_id: int, channel: str, latest: datetime | None, now: datetime
    ) -> None:
        """Count the conversation as active in the quarter-hour of `now`, unless `latest` (its
        latest counted quarter-hour, read with its row in this transaction) is that one."""
        slot = slot_of(now)
        if latest is not None and slot <= latest:
            if slot < latest:
                await self._backdated(conversation_id, channel, slot)
            return
        row = {"conversation_id": conversation_id, "slot": slot}
        await self._db.execute(MARK.on(self._db), {**row, "previous": latest, "channel": channel})
        await self._db.execute(REMEMBER, row)

    async def _backdated(self, conversation_id: int, channel: str, slot: datetime) -> None:
        """A quarter-hour before the latest one (a turn on an instance whose clock is behind):
        slotted in between its neighbours, so that counts stay exact. Rare, so a few reads."""
        table = conversation_activity.c
        mine = table.conversation_id == conversation_id
        if (await self._db.execute(select(table.slot).where(mine, table.slot == slot))).first():
            return
        before = select(func.max(table.slot)).where(mine, table.slot < slot)
        after = select(func.min(table.slot)).where(mine, table.slot > slot)
        previous = (await self._db.execute(before)).scalar_one()
        following = (await self._db.execute(after)).scalar_one()
        row = {"conversation_id": conversation_id, "slot": slot, "previous": previous}
        await self._db.execute(MARK.on(self._db), {**row, "channel": channel})
        await self._db.execute(
            update(conversation_activity).where(mine, table.slot == following).values(previous=slot)
        )

    async def by_channel(self, since: datetime, until: datetime) -> dict[str, int] | None:
        """How many conversations were active in [since, until), per channel; None when the
        bounds are not on quarter-hours (count those from the touchpoints)."""
        if not (on_slot(since) and on_slot(until)):
            return None
        table = conversation_activity.c
        query = (
            select(table.channel, func.count())
            .where(table.slot >= since, table.slot < until)
            .where(or_(table.previous.is_(None), table.previous < since))
            .group_by(table.channel)
        )
        return {channel: int(count) for channel, count in await self._db.execute(query)}
