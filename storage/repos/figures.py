"""The report's reads: `touchpoint_figures`, the touchpoints it counts as narrow rows.

Every figure is counted by the database and comes back as a handful of rows: a year holds tens
of thousands of leads and latencies, and turning each into a Python row costs more than the
database spends finding them all. The cohort's leads are counted per channel, source and
furthest stage, and per local day; latencies come as one list per rep, for the percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, case, cast, func, or_, select, update

from storage.connection import SqlConnection
from storage.tables import touchpoint_figures

ADD_FIGURES = touchpoint_figures.insert()  # a constant: held writes are merged by statement

FIGURES = touchpoint_figures.c
MINUTES_PER_DAY = 1440
# The kinds `touchpoint report` counts besides activity (bot/reports.py; a test keeps the two
# the same): each touchpoint of these is written again as a figures row.
COUNTED = frozenset(
    {
        "lead_captured",
        "lead_contacted",
        "lead_status_changed",
        "rep_claimed",
        "rep_replied",
        "csat_rated",
        "ticket_opened",
        "ticket_status_changed",
    }
)


# Of these, a lead's last one in a period is what counts (its last capture puts it in the
# period's cohort; its last status change is its outcome): each row knows when the next came.
SUPERSEDED = frozenset({"lead_captured", "lead_status_changed"})


def linked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Figures rows written together (in time order, as the bulk loads of benchmarks write
    them), each capture and status change with the time of the lead's next one."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        row.setdefault("next_at", None)
        if row["kind"] in SUPERSEDED and row["lead_id"] is not None:
            before = latest.get((row["lead_id"], row["kind"]))
            if before is not None:
                before["next_at"] = row["occurred_at"]
            latest[(row["lead_id"], row["kind"])] = row
    return rows


def figure_row(touchpoint: dict[str, Any]) -> dict[str, Any]:
    """The figures row of a touchpoint (a dict as the repository inserts it): the fields of
    its details the report counts, each kept only when of the type it counts."""
    details, moment = touchpoint["details"], touchpoint["occurred_at"]
    first = details.get("first")
    return {
        "kind": touchpoint["kind"],
        "channel": touchpoint["channel"],
        "occurred_at": moment,
        "minute": int(moment.timestamp()) // 60,
        "lead_id": _whole(details.get("lead_id")),
        "rep_id": _whole(details.get("rep_id")),
        "stage": _text(details.get("to")),
        "reason": _text(details.get("reason")),
        "source": _text(details.get("source")),
        "latency": _number(details.get("latency")),
        "first": None if first is None else bool(first),
        "rating": _number(details.get("rating")),
    }


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class LeadStages:
    """The kinds that tell a lead's stage, and each stage's rank in the funnel."""

    captured: str
    contacted: str
    changed: str
    rank: dict[str, int]


@dataclass(frozen=True, slots=True)
class CohortCell:
    """How many of the period's leads came by this channel and source and got this far; the
    first of them (its capture's time and row), which orders groups tied in count."""

    channel: str
    source: str | None
    rank: int
    count: int
    first: tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class Outcome:
    stage: str
    reason: str | None
    count: int


@dataclass(frozen=True, slots=True)
class Ratings:
    key: Any  # a rep id, a channel, or None for everyone's
    count: int
    total: float
    satisfied: int  # ratings of 4 and 5


@dataclass(frozen=True, slots=True)
class DaySpan:
    """A stretch of time over which the company's clock is `offset` minutes ahead of UTC."""

    since: datetime
    until: datetime
    offset: int


def _in_period(kinds: tuple[str, ...], since: datetime, until: datetime) -> list[Any]:
    return [FIGURES.kind.in_(kinds), FIGURES.occurred_at >= since, FIGURES.occurred_at < until]


class TouchpointFigures:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert figures rows (`figure_row`). A lead's capture or status change is inserted on
        its own, after marking the lead's one before it as followed by it."""
        plain = [row for row in rows if row["kind"] not in SUPERSEDED or row["lead_id"] is None]
        if plain:
            await self._db.defer(ADD_FIGURES, plain)
        for row in rows:
            if row["kind"] in SUPERSEDED and row["lead_id"] is not None:
                next_at = await self._follow(row["lead_id"], row["kind"], row["occurred_at"])
                await self._db.execute(touchpoint_figures.insert(), {**row, "next_at": next_at})

    async def _follow(self, lead_id: int, kind: str, at: datetime) -> datetime | None:
        """Mark the lead's rows of this kind up to `at` as followed at `at`; the time of one
        already after it (written by an instance whose clock was ahead), if any."""
        same = (FIGURES.lead_id == lead_id, FIGURES.kind == kind)
        earlier = or_(FIGURES.next_at.is_(None), FIGURES.next_at > at)
        await self._db.execute(
            update(touchpoint_figures)
            .where(*same, FIGURES.occurred_at <= at, earlier)
            .values(next_at=at)
        )
        after = select(func.min(FIGURES.occurred_at)).where(*same, FIGURES.occurred_at > at)
        found: datetime | None = (await self._db.execute(after)).scalar_one()
        return found

    async def latencies(
        self, kinds: tuple[str, ...], since: datetime, until: datetime, *, first_only: bool
    ) -> dict[int | None, list[float]]:
        """Each rep's latencies of these kinds (a hand-off's first answers only, when
        `first_only`), to the microsecond. They come as one list of whole microseconds per rep:
        a year's are tens of thousands, and a row each would cost more than the rest of the
        report."""
        where = [*_in_period(kinds, since, until), FIGURES.latency.is_not(None)]
        if first_only:
            where.append(FIGURES.first.is_(True))
        micros = cast(cast(func.round(FIGURES.latency * 1_000_000), BigInteger), String)
        query = select(FIGURES.rep_id, func.aggregate_strings(micros, ","))
        found = await self._db.execute(query.where(*where).group_by(FIGURES.rep_id))
        return {
            rep_id: [int(value) / 1_000_000 for value in listed.split(",")]
            for rep_id, listed in found
        }

    async def ratings(
        self, kinds: tuple[str, ...], since: datetime, until: datetime
    ) -> dict[str, list[Ratings]]:
        """Ratings counted for everyone, per rep and per channel: counted per rep and channel
        in one query, summed here."""
        satisfied = func.sum(case((FIGURES.rating >= 4, 1), else_=0))
        query = (
            select(FIGURES.rep_id, FIGURES.channel, func.count(), func.sum(FIGURES.rating))
            .add_columns(satisfied)
            .where(*_in_period(kinds, since, until), FIGURES.rating.is_not(None))
            .group_by(FIGURES.rep_id, FIGURES.channel)
        )
        groups: dict[str, dict[Any, Ratings]] = {"all": {}, "by_rep": {}, "by_channel": {}}
        for rep_id, channel, count, total, happy in await self._db.execute(query):
            cell = Ratings(None, int(count), float(total), int(happy))
            for name, key in (("all", None), ("by_rep", rep_id), ("by_channel", channel)):
                groups[name][key] = _added(groups[name].get(key), replace(cell, key=key))
        return {name: list(found.values()) for name, found in groups.items()}

    async def tickets(
        self, opened: str, changed: str, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """Tickets opened, and changes to `resolved`, in [since, until)."""
        query = (
            select(FIGURES.kind, func.count())
            .where(*_in_period((opened, changed), since, until))
            .where(or_(FIGURES.kind == opened, FIGURES.stage == "resolved"))
            .group_by(FIGURES.kind)
        )
        counts = {kind: int(count) for kind, count in await self._db.execute(query)}
        return counts.get(opened, 0), counts.get(changed, 0)

    async def cohort(
        self, stages: LeadStages, since: datetime, until: datetime
    ) -> list[CohortCell]:
        """The leads captured in [since, until) — a lead captured twice counts once, as its
        last capture — counted by channel, source and the furthest stage each reached by
        `until` (stages are read from the period's first capture on)."""
        first = await self._first_capture(stages, since, until)
        if first is None:
            return []
        capture = touchpoint_figures.alias("capture")
        furthest = _furthest(stages, first, until)
        reached = func.coalesce(furthest.c.rank, 0).label("reached")
        joined = capture.outerjoin(furthest, furthest.c.lead_id == capture.c.lead_id)
        leads = (
            select(capture.c.channel, capture.c.source, reached, capture.c.occurred_at)
            .add_columns(capture.c.id)
            .select_from(joined)
            .where(*_last_captures(stages, capture, since, until))
            .subquery()
        )
        query = select(
            leads.c.channel,
            leads.c.source,
            leads.c.reached,
            func.count(),
            func.min(leads.c.occurred_at),
            func.min(leads.c.id),
        ).group_by(leads.c.channel, leads.c.source, leads.c.reached)
        return [
            CohortCell(channel, source, int(rank), int(count), (at, number))
            for channel, source, rank, count, at, number in await self._db.execute(query)
        ]

    async def captured_per_day(
        self, stages: LeadStages, since: datetime, until: datetime, spans: list[DaySpan]
    ) -> dict[int, int]:
        """The cohort's leads per local day (days since 1970-01-01 on the company's calendar),
        each span of a constant offset from UTC counted on its own."""
        capture = touchpoint_figures.alias("capture")
        per_day: dict[int, int] = {}
        for span in spans:
            day = (capture.c.minute + span.offset) // MINUTES_PER_DAY
            query = (
                select(day, func.count())
                .where(*_last_captures(stages, capture, since, until))
                .where(capture.c.occurred_at >= span.since, capture.c.occurred_at < span.until)
                .group_by(day)
            )
            for number, count in await self._db.execute(query):
                per_day[int(number)] = per_day.get(int(number), 0) + int(count)
        return per_day

    async def outcomes(self, stages: LeadStages, since: datetime, until: datetime) -> list[Outcome]:
        """Of the cohort's leads whose last status change is won or lost: how many, per stage
        and reason (a later change reopened a lead, so only the last one counts); reasons
        tied in count listed first seen first."""
        first = await self._first_capture(stages, since, until)
        if first is None:
            return []
        change, capture = touchpoint_figures.alias("change"), touchpoint_figures.alias("capture")
        in_cohort = (
            select(capture.c.id)
            .where(capture.c.lead_id == change.c.lead_id, capture.c.kind == stages.captured)
            .where(capture.c.occurred_at >= since, capture.c.occurred_at < until)
            .exists()
        )
        query = (
            select(change.c.stage, change.c.reason, func.count())
            .where(change.c.kind == stages.changed, change.c.lead_id.is_not(None))
            .where(change.c.occurred_at >= first, change.c.occurred_at < until)
            .where(change.c.stage.in_(("won", "lost")), _last_before(change, until), in_cohort)
            .group_by(change.c.stage, change.c.reason)
            .order_by(func.min(change.c.occurred_at))
        )
        return [
            Outcome(stage, reason, int(count))
            for stage, reason, count in await self._db.execute(query)
        ]

    async def _first_capture(
        self, stages: LeadStages, since: datetime, until: datetime
    ) -> datetime | None:
        """The period's first capture (any capture's): stages are read from it on. Read
        first, so that the planner sees the moment (PostgreSQL plans the join for the rows
        after it, not for a guess)."""
        query = select(func.min(FIGURES.occurred_at))
        query = query.where(*_in_period((stages.captured,), since, until))
        found: datetime | None = (await self._db.execute(query)).scalar_one()
        return found


def _added(before: Ratings | None, more: Ratings) -> Ratings:
    if before is None:
        return more
    return Ratings(
        more.key,
        before.count + more.count,
        before.total + more.total,
        before.satisfied + more.satisfied,
    )


def _last_captures(stages: LeadStages, capture: Any, since: datetime, until: datetime) -> list[Any]:
    """The captures of the period that are their lead's last in it."""
    return [
        capture.c.kind == stages.captured,
        capture.c.occurred_at >= since,
        capture.c.occurred_at < until,
        capture.c.lead_id.is_not(None),
        _last_before(capture, until),
    ]


def _last_before(row: Any, until: datetime) -> Any:
    """The row is its lead's last of its kind before `until`."""
    return or_(row.c.next_at.is_(None), row.c.next_at >= until)


def _furthest(stages: LeadStages, first: datetime, until: datetime) -> Any:
    """Each lead's furthest stage (its rank) reached in [first, until): grouped once and joined
    to the captures (PostgreSQL hashes it; SQLite indexes it on the fly), where a lookup per
    lead costs a search of the index per lead."""
    stage = touchpoint_figures.alias("stage")
    rank = case(
        (stage.c.kind == stages.contacted, stages.rank["contacted"]),
        *((stage.c.stage == name, value) for name, value in stages.rank.items()),
        else_=0,
    )
    return (
        select(stage.c.lead_id, func.max(rank).label("rank"))
        .where(stage.c.kind.in_((stages.contacted, stages.changed)))
        .where(stage.c.occurred_at >= first, stage.c.occurred_at < until)
        .where(stage.c.lead_id.is_not(None))
        .group_by(stage.c.lead_id)
        .subquery("furthest")
    )
