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

from bot.kinds import TouchpointKind as Kind
from bot.records import TouchpointRow
from storage.uow import UnitOfWork

NONE = "-"  # the name of "none given": no rep named, no campaign, no reason
FUNNEL = ("captured", "contacted", "qualified", "proposal", "won")
STAGE_RANK = {"new": 0, "contacted": 1, "qualified": 2, "proposal": 3, "won": 4}
CSAT_RATED = "csat_rated"
ACTIVITY = (Kind.MESSAGE_IN, Kind.CONVERSATION_OPENED)
LEAD_KINDS = (Kind.LEAD_CAPTURED, Kind.LEAD_CONTACTED, Kind.LEAD_STATUS_CHANGED)
HANDOFF_KINDS = (Kind.REP_CLAIMED, Kind.REP_REPLIED)
TICKET_KINDS = (Kind.TICKET_OPENED, Kind.TICKET_STATUS_CHANGED)


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime


def overdue_cutoff(now: datetime, followup_after: timedelta) -> datetime:
    """An open ticket opened before this moment is overdue: older than the follow-up time."""
    return now - followup_after


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median and nearest-rank p90 of latencies in seconds (None when there are none)."""
    if not values:
        return {"count": 0, "median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {"count": len(ordered), "median": statistics.median(ordered), "p90": p90}


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
    per_channel = await uow.touchpoints.conversations_by_channel(
        ACTIVITY, period.since, period.until
    )
    total = sum(per_channel.values())
    return {"conversations": {"total": total, "by_channel": dict(sorted(per_channel.items()))}}


async def _speed_to_lead(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    return {"speed_to_lead": await _latencies(uow, period, (Kind.LEAD_CONTACTED,), names)}


async def _leads(uow: UnitOfWork, period: Period, zone: tzinfo) -> dict[str, Any]:
    captured = await uow.touchpoints.of_kinds((Kind.LEAD_CAPTURED,), period.since, period.until)
    cohort = {int(t.details["lead_id"]): t for t in captured if "lead_id" in t.details}
    reached: dict[int, int] = dict.fromkeys(cohort, 0)
    outcome: dict[int, tuple[str, str | None]] = {}
    since_first = min((t.occurred_at for t in captured), default=period.since)
    later = await uow.touchpoints.of_kinds(
        (Kind.LEAD_CONTACTED, Kind.LEAD_STATUS_CHANGED), since_first, period.until
    )
    for touchpoint in later:
        lead_id = int(touchpoint.details.get("lead_id", 0))
        if lead_id not in cohort:
            continue
        stage = (
            "contacted" if touchpoint.kind == Kind.LEAD_CONTACTED else touchpoint.details.get("to")
        )
        if stage in STAGE_RANK:
            reached[lead_id] = max(reached[lead_id], STAGE_RANK[stage])
        if stage in ("won", "lost"):
            outcome[lead_id] = (stage, touchpoint.details.get("reason"))
        elif touchpoint.kind == Kind.LEAD_STATUS_CHANGED:
            outcome.pop(lead_id, None)  # reopened
    funnel = _funnel(list(reached.values()))
    lost_reasons = Counter(reason or NONE for stage, reason in outcome.values() if stage == "lost")
    return {
        "leads": {
            "total": len(cohort),
            "by_source": _counted(t.details.get("source") or NONE for t in cohort.values()),
            "by_channel": _counted(t.channel for t in cohort.values()),
            "by_day": _per_day(cohort.values(), period, zone),
        },
        "funnel": funnel,
        "funnel_by_channel": _funnels(cohort, reached, lambda t: t.channel),
        "funnel_by_source": _funnels(cohort, reached, lambda t: t.details.get("source") or NONE),
        "conversion": _conversion(funnel),
        "won": sum(stage == "won" for stage, _ in outcome.values()),
        "lost": sum(stage == "lost" for stage, _ in outcome.values()),
        "lost_reasons": dict(lost_reasons.most_common()),
    }


def _funnel(ranks: list[int]) -> dict[str, int]:
    """How many of the leads (their furthest stage each) reached each stage."""
    funnel = {"captured": len(ranks)}
    for stage in FUNNEL[1:]:
        funnel[stage] = sum(rank >= STAGE_RANK[stage] for rank in ranks)
    return funnel


def _funnels(
    cohort: dict[int, TouchpointRow], reached: dict[int, int], key: Callable[[TouchpointRow], str]
) -> dict[str, dict[str, int]]:
    """The funnel of each group of the leads (by channel, by source), largest group first."""
    groups: dict[str, list[int]] = defaultdict(list)
    for lead_id, captured in cohort.items():
        groups[key(captured)].append(reached[lead_id])
    ordered = sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))
    return {name: _funnel(ranks) for name, ranks in ordered}


def _per_day(captured: Iterable[TouchpointRow], period: Period, zone: tzinfo) -> dict[str, int]:
    """Leads per local day, every day of the period listed (none is a zero, not a gap)."""
    first, last = _local_day(period.since, zone), _local_day(period.until - _INSTANT, zone)
    days = {str(first + timedelta(days=n)): 0 for n in range((last - first).days + 1)}
    for touchpoint in captured:
        days[str(_local_day(touchpoint.occurred_at, zone))] += 1
    return days


_INSTANT = timedelta(microseconds=1)


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
    kinds: Sequence[str],
    names: dict[int, str],
    *,
    first_only: bool = False,
) -> dict[str, Any]:
    per_rep: dict[str, list[float]] = defaultdict(list)
    for touchpoint in await uow.touchpoints.of_kinds(kinds, period.since, period.until):
        if timed(touchpoint, first_only=first_only):
            per_rep[_rep(touchpoint, names)].append(float(touchpoint.details["latency"]))
    every = [value for values in per_rep.values() for value in values]
    return {
        "all": spread(every),
        "by_rep": {rep: spread(values) for rep, values in sorted(per_rep.items())},
    }


async def _handoffs(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    claim = await _latencies(uow, period, (Kind.REP_CLAIMED,), names)
    first_reply = await _latencies(uow, period, (Kind.REP_REPLIED,), names, first_only=True)
    return {"handoffs": {"claim": claim, "first_reply": first_reply}}


async def _csat(uow: UnitOfWork, period: Period, names: dict[int, str]) -> dict[str, Any]:
    found = await uow.touchpoints.of_kinds((CSAT_RATED,), period.since, period.until)
    rated = [t for t in found if a_rating(t)]
    by_rep: dict[str, list[float]] = defaultdict(list)
    by_channel: dict[str, list[float]] = defaultdict(list)
    for touchpoint in rated:
        rating = float(touchpoint.details["rating"])
        by_rep[_rep(touchpoint, names)].append(rating)
        by_channel[touchpoint.channel].append(rating)
    return {
        "csat": {
            "all": _ratings([float(t.details["rating"]) for t in rated]),
            "by_rep": {rep: _ratings(values) for rep, values in sorted(by_rep.items())},
            "by_channel": {name: _ratings(values) for name, values in sorted(by_channel.items())},
        }
    }


def _ratings(values: Sequence[float]) -> dict[str, float | int | None]:
    """How many ratings, their mean, and the share of 4 and 5 (the usual CSAT score)."""
    if not values:
        return {"count": 0, "average": None, "satisfied": None}
    satisfied = sum(value >= 4 for value in values) / len(values)
    return {
        "count": len(values),
        "average": round(statistics.fmean(values), 2),
        "satisfied": round(satisfied, 3),
    }


async def _tickets(
    uow: UnitOfWork, period: Period, *, now: datetime, followup_after: timedelta
) -> dict[str, Any]:
    found = await uow.touchpoints.of_kinds(TICKET_KINDS, period.since, period.until)
    tickets = {
        "opened": sum(t.kind == Kind.TICKET_OPENED for t in found),
        "resolved": sum(
            t.kind == Kind.TICKET_STATUS_CHANGED and t.details.get("to") == "resolved"
            for t in found
        ),
        "overdue_followups": await uow.tickets.open_since_before(
            overdue_cutoff(now, followup_after)
        ),
        "overdue_next_steps": await uow.leads.next_steps_due_before(now),
    }
    return {"tickets": tickets}


def timed(touchpoint: TouchpointRow, *, first_only: bool = False) -> bool:
    """Whether a latency touchpoint counts in the times (a hand-off's first answer only, when
    `first_only`)."""
    if touchpoint.details.get("latency") is None:
        return False
    return bool(touchpoint.details.get("first")) or not first_only


def a_rating(touchpoint: TouchpointRow) -> bool:
    return isinstance(touchpoint.details.get("rating"), int | float)


def _rep(touchpoint: TouchpointRow, names: dict[int, str]) -> str:
    rep_id = touchpoint.details.get("rep_id")
    return names.get(int(rep_id), f"rep {rep_id}") if rep_id is not None else NONE


def _counted(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())
