"""Touchpoints: the immutable timeline of every contact point."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, Text, and_, case, cast, func, or_, select, type_coerce

from bot.records import TouchpointRow
from storage.connection import SqlConnection
from storage.repos.merges import absorbed
from storage.tables import touchpoints


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
        await self._db.execute(touchpoints.insert(), rows)

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
        number = cast(_field("sequence").as_string(), BigInteger)
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


# The report's figures are counted in the database: a year is a hundred thousand touchpoints,
# and only a few of their details' fields matter. JSON fields are read with SQLAlchemy's index
# operators (SQLite json_extract, PostgreSQL ->/->>), so the same query serves both engines.
def _field(name: str) -> Any:
    """A field of the details as JSON, decoded as the whole details would be (true stays True,
    a missing field and a JSON null are both None)."""
    return touchpoints.c.details[name]


def _in_period(kinds: Sequence[str], since: datetime, until: datetime) -> list[Any]:
    return [
        touchpoints.c.kind.in_(kinds),
        touchpoints.c.occurred_at >= since,
        touchpoints.c.occurred_at < until,
    ]


@dataclass(frozen=True, slots=True)
class Timed:
    rep_id: Any
    latency: Any
    first: Any


@dataclass(frozen=True, slots=True)
class Rated:
    channel: str
    rep_id: Any
    rating: Any


@dataclass(frozen=True, slots=True)
class CohortLead:
    """A lead captured in the period: where it came from and the furthest stage it reached."""

    channel: str
    source: str | None
    captured_at: datetime
    rank: int


@dataclass(frozen=True, slots=True)
class Outcome:
    stage: str
    reason: str | None
    count: int


class TouchpointFigures:
    """The report's reads: counts and the few fields a figure needs, never whole rows."""

    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def timed(self, kinds: Sequence[str], since: datetime, until: datetime) -> list[Timed]:
        """The rep, latency and first-answer mark of each touchpoint of these kinds."""
        query = select(_field("rep_id"), _field("latency"), _field("first")).where(
            *_in_period(kinds, since, until)
        )
        return [Timed(*row) for row in await self._db.execute(query)]

    async def rated(self, kinds: Sequence[str], since: datetime, until: datetime) -> list[Rated]:
        query = select(touchpoints.c.channel, _field("rep_id"), _field("rating")).where(
            *_in_period(kinds, since, until)
        )
        return [Rated(*row) for row in await self._db.execute(query)]

    async def tickets(
        self, opened: str, changed: str, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """Tickets opened, and changes to `resolved`, in [since, until)."""
        resolved = touchpoints.c.details["to"].as_string() == "resolved"
        query = (
            select(touchpoints.c.kind, func.count())
            .where(*_in_period((opened, changed), since, until))
            .where(or_(touchpoints.c.kind == opened, resolved))
            .group_by(touchpoints.c.kind)
        )
        counts = {kind: int(count) for kind, count in await self._db.execute(query)}
        return counts.get(opened, 0), counts.get(changed, 0)

    async def cohort(
        self, stages: LeadStages, since: datetime, until: datetime
    ) -> list[CohortLead]:
        """The leads captured in [since, until) with the furthest stage each reached by `until`
        (a lead captured twice counts once, as its last capture)."""
        captured, reached = _captured(stages, since, until), _reached(stages, since, until)
        query = select(
            captured.c.channel,
            captured.c.source,
            captured.c.occurred_at,
            func.coalesce(reached.c.rank, 0),
        ).select_from(captured.outerjoin(reached, reached.c.lead_id == captured.c.lead_id))
        # In capture order, as the report always listed them: ties in its counts keep it.
        query = query.where(captured.c.last == 1).order_by(captured.c.occurred_at, captured.c.id)
        return [CohortLead(*row) for row in await self._db.execute(query)]

    async def outcomes(self, stages: LeadStages, since: datetime, until: datetime) -> list[Outcome]:
        """Of the cohort's leads whose last status change is won or lost: how many, per stage
        and reason (a later change reopened a lead, so only the last one counts)."""
        changes = _changes(stages, since, until)
        cohort = _captured(stages, since, until)
        # A join, not IN (subquery): PostgreSQL ran the IN as a loop over the cohort (seconds).
        in_cohort = and_(cohort.c.lead_id == changes.c.lead_id, cohort.c.last == 1)
        query = (
            select(changes.c.stage, changes.c.reason, func.count())
            .select_from(changes.join(cohort, in_cohort))
            .where(changes.c.latest == 1, changes.c.stage.in_(("won", "lost")))
            .group_by(changes.c.stage, changes.c.reason)
            .order_by(func.min(changes.c.occurred_at))  # reasons tied in count: first seen first
        )
        return [
            Outcome(stage, reason, int(n)) for stage, reason, n in await self._db.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class LeadStages:
    """The kinds that tell a lead's stage, and each stage's rank in the funnel."""

    captured: str
    contacted: str
    changed: str
    rank: dict[str, int]


_LEAD_ID = touchpoints.c.details["lead_id"].as_integer()


def _captured(stages: LeadStages, since: datetime, until: datetime) -> Any:
    newest = (touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc())
    return (
        select(
            _LEAD_ID.label("lead_id"),
            touchpoints.c.id,
            touchpoints.c.channel,
            touchpoints.c.details["source"].as_string().label("source"),
            touchpoints.c.occurred_at,
            func.row_number().over(partition_by=_LEAD_ID, order_by=newest).label("last"),
        )
        .where(*_in_period((stages.captured,), since, until), _LEAD_ID.is_not(None))
        .subquery()
    )


def _first_capture(stages: LeadStages, since: datetime, until: datetime) -> Any:
    """Stage changes are read from the first capture of the period on (any capture's, as the
    report always did)."""
    return (
        select(func.min(touchpoints.c.occurred_at))
        .where(*_in_period((stages.captured,), since, until))
        .scalar_subquery()
    )


def _later(stages: LeadStages, since: datetime, until: datetime) -> list[Any]:
    return [
        touchpoints.c.kind.in_((stages.contacted, stages.changed)),
        touchpoints.c.occurred_at >= _first_capture(stages, since, until),
        touchpoints.c.occurred_at < until,
    ]


def _reached(stages: LeadStages, since: datetime, until: datetime) -> Any:
    to = touchpoints.c.details["to"].as_string()
    rank = case(
        (touchpoints.c.kind == stages.contacted, stages.rank["contacted"]),
        *((to == stage, value) for stage, value in stages.rank.items()),
        else_=0,
    )
    return (
        select(_LEAD_ID.label("lead_id"), func.max(rank).label("rank"))
        .where(*_later(stages, since, until))
        .group_by(_LEAD_ID)
        .subquery()
    )


def _changes(stages: LeadStages, since: datetime, until: datetime) -> Any:
    newest = (touchpoints.c.occurred_at.desc(), touchpoints.c.id.desc())
    return (
        select(
            _LEAD_ID.label("lead_id"),
            touchpoints.c.details["to"].as_string().label("stage"),
            touchpoints.c.details["reason"].as_string().label("reason"),
            touchpoints.c.occurred_at,
            func.row_number().over(partition_by=_LEAD_ID, order_by=newest).label("latest"),
        )
        .where(*_later(stages, since, until), touchpoints.c.kind == stages.changed)
        .subquery()
    )
