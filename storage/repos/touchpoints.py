"""Touchpoints: the immutable timeline of every contact point."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, Text, cast, func, select, type_coerce

from bot.records import TouchpointRow
from storage.connection import SqlConnection
from storage.repos.figures import COUNTED, TouchpointFigures, figure_row
from storage.repos.merges import absorbed
from storage.tables import touchpoints

ADD = touchpoints.insert()  # a constant: held writes are merged by statement


@dataclass(frozen=True, slots=True)
class NewTouchpoint:
    kind: str
    channel: str
    actor: str
    occurred_at: datetime
    contact_id: int | None = None
    conversation_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a touchpoint with a sequence stands on the timeline."""

    occurred_at: datetime
    sequence: int


def touchpoint_from_row(row: Row[Any]) -> TouchpointRow:
    return TouchpointRow(
        id=row.id,
        contact_id=row.contact_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        kind=row.kind,
        actor=row.actor,
        occurred_at=row.occurred_at,
        details=_decoded(row.details),
    )


# A report reads a year's touchpoints of some kinds (a hundred thousand): their details are
# decoded here in one call each, a fifth less time per row than SQLAlchemy's JSON type on SQLite.
LEAN = (
    *(column for column in touchpoints.c if column.name != "details"),
    type_coerce(touchpoints.c.details, Text).label("details"),
)


def _decoded(details: str | dict[str, Any] | None) -> dict[str, Any]:
    """The details as a dict of the row's own: the JSON type decodes them, asyncpg too, and a
    lean query on SQLite hands the JSON text over."""
    if isinstance(details, dict):
        return dict(details)
    return dict(json.loads(details)) if details else {}


class TouchpointRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection
        self.figures = TouchpointFigures(connection)

    async def add(self, events: Sequence[NewTouchpoint]) -> None:
        """Insert all events in one statement (the dispatcher writes several per turn)."""
        if not events:
            return
        rows = [
            {
                "kind": event.kind,
                "channel": event.channel,
                "actor": event.actor,
                "occurred_at": event.occurred_at,
                "contact_id": event.contact_id,
                "conversation_id": event.conversation_id,
                "details": event.details,
            }
            for event in events
        ]
        await self._db.defer(ADD, rows)
        counted = [figure_row(row) for row in rows if row["kind"] in COUNTED]
        if counted:
            await self.figures.write(counted)

    async def search(
        self,
        *,
        contact_id: int | None = None,
        conversation_id: int | None = None,
        kind: str | None = None,
        limit: int = 200,
    ) -> list[TouchpointRow]:
        """The newest `limit` touchpoints, in time order (oldest first).

        A contact's touchpoints include those of the contacts merged into it (merges not
        undone): they keep the contact they were written for, and the timeline reads across.
        """
        query = touchpoints.select()
        if contact_id is not None:
            query = query.where(touchpoints.c.contact_id.in_(absorbed(contact_id)))
        if conversation_id is not None:
            query = query.where(touchpoints.c.conversation_id == conversation_id)
        if kind is not None:
            query = query.where(touchpoints.c.kind == kind)
        newest = (touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc())
        rows = list(await self._db.execute(query.order_by(*newest).limit(limit)))
        return [touchpoint_from_row(row) for row in reversed(rows)]

    async def page(
        self, contact_id: int, *, offset: int = 0, limit: int = 100
    ) -> list[TouchpointRow]:
        """One page of the contact's timeline (with the contacts merged into it), newest
        first: `limit` touchpoints after the newest `offset`."""
        query = touchpoints.select().where(touchpoints.c.contact_id.in_(absorbed(contact_id)))
        newest = (touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc())
        rows = await self._db.execute(query.order_by(*newest).offset(offset).limit(limit))
        return [touchpoint_from_row(row) for row in rows]

    async def beside(
        self, conversation_id: int, kind: str, sequence: int
    ) -> tuple[Placed | None, Placed | None]:
        """The conversation's touchpoints of `kind` with the nearest lower and the nearest
        higher `sequence` in their details (None where there is none): where a message
        handled late belongs on the timeline."""
        number = cast(touchpoints.c.details["sequence"].as_string(), BigInteger)
        base = select(touchpoints.c.occurred_at, number).where(
            touchpoints.c.conversation_id == conversation_id,
            touchpoints.c.kind == kind,
            number.is_not(None),
        )
        before = base.where(number < sequence).order_by(number.desc()).limit(1)
        after = base.where(number > sequence).order_by(number).limit(1)
        return await self._placed(before), await self._placed(after)

    async def _placed(self, query: Any) -> Placed | None:
        row = (await self._db.execute(query)).first()
        return Placed(row[0], int(row[1])) if row is not None else None

    async def of_kinds(
        self, kinds: Sequence[str], since: datetime, until: datetime
    ) -> list[TouchpointRow]:
        """Every touchpoint of these kinds in [since, until), in time order (for reports: the
        index on kind and time keeps this to the rows asked for)."""
        query = (
            select(*LEAN)
            .where(
                touchpoints.c.kind.in_(kinds),
                touchpoints.c.occurred_at >= since,
                touchpoints.c.occurred_at < until,
            )
            .order_by(touchpoints.c.occurred_at, touchpoints.c.id)
        )
        return [touchpoint_from_row(row) for row in await self._db.execute(query)]

    async def conversations_by_channel(
        self, kinds: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, int]:
        """How many conversations had a touchpoint of these kinds in [since, until), per channel."""
        query = (
            select(touchpoints.c.channel, func.count(func.distinct(touchpoints.c.conversation_id)))
            .where(
                touchpoints.c.kind.in_(kinds),
                touchpoints.c.occurred_at >= since,
                touchpoints.c.occurred_at < until,
                touchpoints.c.conversation_id.is_not(None),
            )
            .group_by(touchpoints.c.channel)
        )
        return {channel: int(count) for channel, count in await self._db.execute(query)}

    async def first_per_conversation(
        self, kinds: Sequence[str], since: datetime, until: datetime, wanted: FirstsWanted
    ) -> tuple[int, list[TouchpointRow]]:
        """How many conversations had a touchpoint of these kinds in [since, until) (per
        channel, as `conversations_by_channel` counts them), and a page of the first such
        touchpoint of each, newest first."""
        first = select(func.min(touchpoints.c.id).label("id")).where(
            touchpoints.c.kind.in_(kinds),
            touchpoints.c.occurred_at >= since,
            touchpoints.c.occurred_at < until,
            touchpoints.c.conversation_id.is_not(None),
        )
        if wanted.channel is not None:
            first = first.where(touchpoints.c.channel == wanted.channel)
        if wanted.contacts is not None:
            first = first.where(touchpoints.c.contact_id.in_(sorted(wanted.contacts)))
        firsts = first.group_by(touchpoints.c.channel, touchpoints.c.conversation_id).subquery()
        total = (await self._db.execute(select(func.count()).select_from(firsts))).scalar_one()
        query = (
            touchpoints.select()
            .where(touchpoints.c.id.in_(select(firsts.c.id)))
            .order_by(touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc())
            .offset(wanted.offset)
            .limit(wanted.limit)
        )
        return int(total), [touchpoint_from_row(row) for row in await self._db.execute(query)]


@dataclass(frozen=True, slots=True)
class FirstsWanted:
    channel: str | None = None
    contacts: Collection[int] | None = None  # None: anyone's
    offset: int = 0
    limit: int = 50
