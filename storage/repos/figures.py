"""The report's reads: `touchpoint_figures`, the touchpoints it counts as narrow rows.

Every figure is counted by the database and comes back as a handful of rows: a year holds tens
of thousands of leads and latencies, and turning each into a Python row costs more than the
database spends finding them all. Percentiles are picked by window functions (the rows at the
median and p90 ranks of each rep), the cohort's furthest stages are looked up per lead by the
index on lead, and its leads are counted per channel, source and stage, and per local day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select, update

from storage.connection import SqlConnection
from storage.tables import touchpoint_figures

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
class Spread:
    """Count, the two middle values (the same one for an odd count) and the nearest-rank p90
    of the latencies of one rep (`rep_id`), or of everyone's."""

    rep_id: int | None
    count: int
    low_middle: float
    high_middle: float
    p90: float


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
            await self._db.execute(touchpoint_figures.insert(), plain)
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

    async def spreads(
        self, kinds: tuple[str, ...], since: datetime, until: datetime, *, first_only: bool
    ) -> tuple[Spread | None, list[Spread]]:
        """The latencies of these kinds (a hand-off's first answers only, when `first_only`):
        everyone's and each rep's, from the rows at the ranks that make them."""
        where = [*_in_period(kinds, since, until), FIGURES.latency.is_not(None)]
        if first_only:
            where.append(FIGURES.first.is_(True))
        by_rep, everyone = _ranked(FIGURES.rep_id), _ranked(None)
        ranked = select(FIGURES.rep_id, FIGURES.latency, *by_rep, *everyone).where(*where)
        ranked_rows = ranked.subquery()
        rep_rank, rep_count, all_rank, all_count = (
            ranked_rows.c[name]
            for name in ("rank_in_rep", "count_in_rep", "rank_overall", "count_overall")
        )
        query = select(ranked_rows).where(
            or_(_picked(rep_rank, rep_count), _picked(all_rank, all_count))
        )
        reps: dict[Any, dict[Any, Any]] = {}
        overall: dict[Any, Any] = {}
        for row in await self._db.execute(query):
            latency = float(row.latency)
            reps.setdefault(row.rep_id, {"count": int(row.count_in_rep)})[row.rank_in_rep] = latency
            overall.setdefault("count", int(row.count_overall))
            overall[row.rank_overall] = latency
        spreads = [_spread(rep_id, values) for rep_id, values in reps.items()]
        return (_spread(None, overall) if overall else None), spreads

    async def ratings(
        self, kinds: tuple[str, ...], since: datetime, until: datetime
    ) -> dict[str, list[Ratings]]:
        """Ratings counted for everyone, per rep and per channel."""
        where = [*_in_period(kinds, since, until), FIGURES.rating.is_not(None)]
        found = {}
        for name, key in (
            ("all", None),
            ("by_rep", FIGURES.rep_id),
            ("by_channel", FIGURES.channel),
        ):
            found[name] = await self._ratings(where, key)
        return found

    async def _ratings(self, where: list[Any], key: ColumnElement[Any] | None) -> list[Ratings]:
        satisfied = func.sum(case((FIGURES.rating >= 4, 1), else_=0))
        counted = (func.count(), func.sum(FIGURES.rating), satisfied)
        query = select(*((key,) if key is not None else ()), *counted).where(*where)
        if key is not None:
            query = query.group_by(key)
        found = []
        for row in await self._db.execute(query):
            *keys, count, total, happy = row
            if count:
                found.append(Ratings(keys[0] if keys else None, count, float(total), int(happy)))
        return found

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
        reached = _reached(stages, capture, first, until).label("reached")
        leads = (
            select(capture.c.channel, capture.c.source, reached, capture.c.occurred_at)
            .add_columns(capture.c.id)
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
        query = select(func.min(FIGURES.occurred_at))
        query = query.where(*_in_period((stages.captured,), since, until))
        found: datetime | None = (await self._db.execute(query)).scalar_one()
        return found


def _ranked(partition: Any) -> tuple[Any, Any]:
    """Each latency's rank (1-based, smallest first) and how many there are: within its rep's
    when `partition` is the rep, among everyone's when None."""
    suffix = "_in_rep" if partition is not None else "_overall"
    rank = func.row_number().over(partition_by=partition, order_by=FIGURES.latency)
    count = func.count().over(partition_by=partition)
    return rank.label(f"rank{suffix}"), count.label(f"count{suffix}")


def _picked(rank: Any, count: Any) -> Any:
    """The middle one or two ranks, and ceil(0.9 n): the nearest-rank p90."""
    return or_(rank == (count + 1) // 2, rank == (count + 2) // 2, rank == (9 * count + 9) // 10)


def _spread(rep_id: Any, values: dict[Any, Any]) -> Spread:
    count = values["count"]
    low, high, p90 = (count + 1) // 2, (count + 2) // 2, (9 * count + 9) // 10
    return Spread(rep_id, count, values[low], values[high], values[p90])


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


def _reached(stages: LeadStages, capture: Any, first: datetime, until: datetime) -> Any:
    """The furthest stage (its rank) the captured lead reached in [first, until)."""
    stage = touchpoint_figures.alias("stage")
    rank = case(
        (stage.c.kind == stages.contacted, stages.rank["contacted"]),
        *((stage.c.stage == name, value) for name, value in stages.rank.items()),
        else_=0,
    )
    return (
        select(func.coalesce(func.max(rank), 0))
        .where(stage.c.lead_id == capture.c.lead_id)
        .where(stage.c.kind.in_((stages.contacted, stages.changed)))
        .where(stage.c.occurred_at >= first, stage.c.occurred_at < until)
        .scalar_subquery()
    )
