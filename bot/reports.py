"""`touchpoint report`: how the team sells and serves over a period, from the touchpoints.

Every figure is counted from the timeline the recorder wrote, so the report agrees with what
`touchpoints list` shows:

- conversations: those with a message in, or opened, in the period, per channel;
- leads captured in the period, per source (the deep-link campaign), per channel and per day
  (every day of the period, in the company's time zone);
- the funnel of those leads (the cohort): how many reached each stage by the end of the period
  (a stage past `new` counts every stage before it; the first contact counts as `contacted`),
  overall and per channel and per source, and won / lost with the reasons given;
- speed-to-lead per rep: the `lead_contacted` latencies in the period (median and p90);
- hand-offs per rep: time to claim (`rep_claimed`) and to the first answer (`rep_replied`
  with `first`);
- satisfaction: `csat_rated` ratings per rep and per channel;
- tickets opened and resolved in the period, and what is overdue at the end of it: open tickets
  older than the follow-up time, open leads whose next step is past due.

Percentiles are nearest-rank: the p90 of ten values is the ninth.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from bot.kinds import ACTIVITY
from bot.kinds import TouchpointKind as Kind
from bot.records import TouchpointRow
from storage.repos.figures import CohortCell, DaySpan, LeadStages, Ratings
from storage.uow import UnitOfWork

NONE = "-"  # the name of "none given": no rep named, no campaign, no reason
FUNNEL = ("captured", "contacted", "qualified", "proposal", "won")
STAGE_RANK = {"new": 0, "contacted": 1, "qualified": 2, "proposal": 3, "won": 4}
CSAT_RATED = "csat_rated"
LEAD_KINDS = (Kind.LEAD_CAPTURED, Kind.LEAD_CONTACTED, Kind.LEAD_STATUS_CHANGED)
LEAD_STAGES = LeadStages(*LEAD_KINDS, rank=STAGE_RANK)
HANDOFF_KINDS = (Kind.REP_CLAIMED, Kind.REP_REPLIED)
TICKET_KINDS = (Kind.TICKET_OPENED, Kind.TICKET_STATUS_CHANGED)
# Every kind a figure is counted from (the touchpoint repository keeps a figures row of each).
COUNTED = frozenset({*LEAD_KINDS, *HANDOFF_KINDS, CSAT_RATED, *TICKET_KINDS})


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime


def overdue_cutoff(now: datetime, followup_after: timedelta) -> datetime:
    """An open ticket opened before this moment is overdue: older than the follow-up time."""
    return now - followup_after


SECTIONS = ("conversations", "leads", "speed_to_lead", "handoffs", "csat", "tickets")


async def build(
    uow: UnitOfWork,
    period: Period,
    *,
    now: datetime,
    followup_after: timedelta,
    zone: tzinfo = UTC,
    sections: Collection[str] = SECTIONS,
) -> dict[str, Any]:
    """The figures of the period; only those of `sections` when fewer are needed (a chart
    draws one or two), each the same as in the whole report."""
    names = {rep.id: rep.name for rep in await uow.reps.search(include_inactive=True)}
    readers: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "conversations": lambda: _conversations(uow, period),
        "leads": lambda: _leads(uow, period, zone),
        "speed_to_lead": lambda: _speed_to_lead(uow, period, names),
        "handoffs": lambda: _handoffs(uow, period, names),
        "csat": lambda: _csat(uow, period, names),
        "tickets": lambda: _tickets(uow, period, now=now, followup_after=followup_after),
    }
    figures = {"since": period.since.isoformat(), "until": period.until.isoformat()}
    for section in SECTIONS:
        if section in sections:
            figures.update(await readers[section]())
    return figures


async def _conversations(uow: UnitOfWork, period: Period) -> dict[str, Any]:
    per_channel = await uow.activity.by_channel(period.since, period.until)
    if per_channel is None:  # bounds between quarter-hours: counted from the touchpoints
        per_channel = await uow.touchpoints.conversations_by_channel(
            ACTIVITY, period.since, period.until
        )
    total = sum(per_channel.values())
    return {"conversations": {"total": total, "by_channel": dict(sorted(per_channel.items()))}}


async def _speed_to_lead(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    return {"speed_to_lead": await _latencies(uow, period, (Kind.LEAD_CONTACTED,), names)}


async def _leads(uow: UnitOfWork, period: Period, zone: tzinfo) -> dict[str, Any]:
    figures = uow.touchpoints.figures
    cells = await figures.cohort(LEAD_STAGES, period.since, period.until)
    outcomes = await figures.outcomes(LEAD_STAGES, period.since, period.until)
    spans = day_spans(period, zone)
    per_day = await figures.captured_per_day(LEAD_STAGES, period.since, period.until, spans)
    funnel = _funnel(cells)
    lost_reasons: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.stage == "lost":
            lost_reasons[outcome.reason or NONE] += outcome.count
    return {
        "leads": {
            "total": funnel["captured"],
            "by_source": _counted(cells, _source),
            "by_channel": _counted(cells, lambda cell: cell.channel),
            "by_day": _per_day(per_day, period, zone),
        },
        "funnel": funnel,
        "funnel_by_channel": _funnels(cells, lambda cell: cell.channel),
        "funnel_by_source": _funnels(cells, _source),
        "conversion": _conversion(funnel),
        "won": sum(o.count for o in outcomes if o.stage == "won"),
        "lost": sum(o.count for o in outcomes if o.stage == "lost"),
        "lost_reasons": dict(lost_reasons.most_common()),
    }


def _source(cell: CohortCell) -> str:
    return cell.source or NONE


def _funnel(cells: Iterable[CohortCell]) -> dict[str, int]:
    """How many of the leads (their furthest stage each) reached each stage."""
    cells = list(cells)
    funnel = {"captured": sum(cell.count for cell in cells)}
    for stage in FUNNEL[1:]:
        funnel[stage] = sum(cell.count for cell in cells if cell.rank >= STAGE_RANK[stage])
    return funnel


def _groups(
    cells: Sequence[CohortCell], key: Callable[[CohortCell], str]
) -> dict[str, list[CohortCell]]:
    """The cells of each group, groups in the order of their first lead."""
    groups: dict[str, list[CohortCell]] = defaultdict(list)
    for cell in sorted(cells, key=lambda cell: cell.first):
        groups[key(cell)].append(cell)
    return groups


def _counted(cells: Sequence[CohortCell], key: Callable[[CohortCell], str]) -> dict[str, int]:
    """Leads per group, largest first (ties: the group whose first lead came first)."""
    counts = Counter(
        {name: sum(c.count for c in group) for name, group in _groups(cells, key).items()}
    )
    return dict(counts.most_common())


def _funnels(
    cells: Sequence[CohortCell], key: Callable[[CohortCell], str]
) -> dict[str, dict[str, int]]:
    """The funnel of each group of the leads (by channel, by source), largest group first."""
    funnels = {name: _funnel(group) for name, group in _groups(cells, key).items()}
    ordered = sorted(funnels.items(), key=lambda group: (-group[1]["captured"], group[0]))
    return dict(ordered)


def _per_day(counted: dict[int, int], period: Period, zone: tzinfo) -> dict[str, int]:
    """Leads per local day, every day of the period listed (none is a zero, not a gap)."""
    first, last = _local_day(period.since, zone), _local_day(period.until - _INSTANT, zone)
    days = {}
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        days[str(day)] = counted.get((day - EPOCH_DAY).days, 0)
    return days


def day_spans(period: Period, zone: tzinfo) -> list[DaySpan]:
    """The period cut where the zone's offset from UTC changes (daylight saving), each piece
    with its offset in minutes: within one, a moment's local day is plain arithmetic."""
    spans, since = [], period.since
    while since < period.until:
        offset = _offset(since, zone)
        until = _next_change(since, period.until, zone, offset)
        spans.append(DaySpan(since, until, int(offset.total_seconds()) // 60))
        since = until
    return spans


def _offset(moment: datetime, zone: tzinfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _next_change(since: datetime, until: datetime, zone: tzinfo, offset: timedelta) -> datetime:
    """The first moment after `since` (before `until`) when the offset is no longer `offset`,
    or `until`: found a day at a time, then to the second by halving."""
    low = since
    while low < until and _offset(min(low + timedelta(days=1), until), zone) == offset:
        low = min(low + timedelta(days=1), until)
    if low >= until or (_offset(until, zone) == offset and low + timedelta(days=1) > until):
        return until
    high = min(low + timedelta(days=1), until)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        low, high = (middle, high) if _offset(middle, zone) == offset else (low, middle)
    return high


_INSTANT = timedelta(microseconds=1)
EPOCH_DAY = date(1970, 1, 1)


def _local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def _conversion(funnel: dict[str, int]) -> dict[str, float | None]:
    """Each stage's share of the stage before it."""
    rates: dict[str, float | None] = {}
    for before, stage in itertools.pairwise(FUNNEL):
        rates[stage] = round(funnel[stage] / funnel[before], 3) if funnel[before] else None
    return rates


async def _latencies(
    uow: UnitOfWork,
    period: Period,
    kinds: tuple[str, ...],
    names: dict[int, str],
    *,
    first_only: bool = False,
) -> dict[str, Any]:
    found = await uow.touchpoints.figures.latencies(
        kinds, period.since, period.until, first_only=first_only
    )
    per_rep: dict[str, list[float]] = defaultdict(list)
    for rep_id, values in found.items():
        per_rep[_rep_named(rep_id, names)].extend(values)
    every = [value for values in per_rep.values() for value in values]
    return {
        "all": spread(every),
        "by_rep": {rep: spread(values) for rep, values in sorted(per_rep.items())},
    }


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median and nearest-rank p90 of latencies in seconds (None when there are none)."""
    if not values:
        return {"count": 0, "median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {"count": len(ordered), "median": statistics.median(ordered), "p90": p90}


async def _handoffs(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    claim = await _latencies(uow, period, (Kind.REP_CLAIMED,), names)
    first_reply = await _latencies(uow, period, (Kind.REP_REPLIED,), names, first_only=True)
    return {"handoffs": {"claim": claim, "first_reply": first_reply}}


async def _csat(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    found = await uow.touchpoints.figures.ratings((CSAT_RATED,), period.since, period.until)
    everyone = found["all"][0] if found["all"] else None
    by_rep = {_rep_named(row.key, names): _ratings(row) for row in found["by_rep"]}
    by_channel = {row.key: _ratings(row) for row in found["by_channel"]}
    return {
        "csat": {
            "all": _ratings(everyone),
            "by_rep": dict(sorted(by_rep.items())),
            "by_channel": dict(sorted(by_channel.items())),
        }
    }


def _ratings(found: Ratings | None) -> dict[str, float | int | None]:
    """How many ratings, their mean, and the share of 4 and 5 (the usual CSAT score)."""
    if found is None:
        return {"count": 0, "average": None, "satisfied": None}
    return {
        "count": found.count,
        "average": round(found.total / found.count, 2),
        "satisfied": round(found.satisfied / found.count, 3),
    }


async def _tickets(
    uow: UnitOfWork, period: Period, *, now: datetime, followup_after: timedelta
) -> dict[str, Any]:
    opened, resolved = await uow.touchpoints.figures.tickets(
        *TICKET_KINDS, period.since, period.until
    )
    tickets = {
        "opened": opened,
        "resolved": resolved,
        "overdue_followups": await uow.tickets.open_since_before(
            overdue_cutoff(now, followup_after)
        ),
        "overdue_next_steps": await uow.leads.next_steps_due_before(now),
    }
    return {"tickets": tickets}


def timed(touchpoint: TouchpointRow, *, first_only: bool = False) -> bool:
    """Whether a latency touchpoint counts in the times (a hand-off's first answer only, when
    `first_only`)."""
    details = touchpoint.details
    return _counts(details.get("latency"), details.get("first"), first_only=first_only)


def _counts(latency: Any, first: Any, *, first_only: bool) -> bool:
    if latency is None:
        return False
    return bool(first) or not first_only


def a_rating(touchpoint: TouchpointRow) -> bool:
    return _is_rating(touchpoint.details.get("rating"))


def _is_rating(value: Any) -> bool:
    return isinstance(value, int | float)


def _rep_named(rep_id: Any, names: dict[int, str]) -> str:
    return names.get(int(rep_id), f"rep {rep_id}") if rep_id is not None else NONE
