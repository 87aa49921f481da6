"""`touchpoint report`: the period's funnel, speed-to-lead, hand-off times, satisfaction and
tickets, for people (plain text) or programs (`--json`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot import reports
from bot.cli.common import fail, reading, settings_or_exit
from bot.model import utc_now
from bot.periods import DEFAULT_DAYS, PeriodError, report_period
from storage.uow import UnitOfWork


def report(
    since: Annotated[
        str | None,
        typer.Option(
            help=f"From this date (YYYY-MM-DD, in TIMEZONE); default {DEFAULT_DAYS} days ago."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this date, not included (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How the team sold and served in a period: conversations, leads by source and channel,
    the funnel, won and lost, speed-to-lead and hand-off times per rep, satisfaction, tickets."""
    settings = settings_or_exit()
    zone = ZoneInfo(settings.zone_name)
    now = utc_now()
    try:
        period = report_period(since, until, zone, now)
    except PeriodError as error:
        raise fail(str(error), 2) from None
    followup = timedelta(hours=settings.followup_after_hours)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return await reports.build(uow, period, now=now, followup_after=followup, zone=zone)

    figures = reading(work)
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        typer.echo(as_text(figures, zone))


def as_text(figures: dict[str, Any], zone: ZoneInfo) -> str:
    since = datetime.fromisoformat(figures["since"]).astimezone(zone)
    until = datetime.fromisoformat(figures["until"]).astimezone(zone)
    funnel, conversion = figures["funnel"], figures["conversion"]
    lines = [
        f"Report {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} ({zone.key})",
        "",
        f"Conversations: {figures['conversations']['total']}"
        + _split(figures["conversations"]["by_channel"]),
        f"Leads: {figures['leads']['total']}" + _split(figures["leads"]["by_channel"]),
        "  by source: " + (_pairs(figures["leads"]["by_source"]) or "-"),
        "Funnel: "
        + " → ".join(
            f"{stage} {funnel[stage]}"
            + (f" ({conversion[stage]:.0%})" if conversion.get(stage) is not None else "")
            for stage in reports.FUNNEL
        ),
        f"Won {figures['won']}, lost {figures['lost']}"
        + (f" ({_pairs(figures['lost_reasons'])})" if figures["lost_reasons"] else ""),
        "",
        "Speed-to-lead (first contact after the lead came in):",
        *_latency_lines(figures["speed_to_lead"]),
        "Hand-offs, time to claim:",
        *_latency_lines(figures["handoffs"]["claim"]),
        "Hand-offs, time to the first answer:",
        *_latency_lines(figures["handoffs"]["first_reply"]),
        "Satisfaction (1-5):",
        *_rating_lines(figures["csat"]),
        "",
        "Tickets: {opened} opened, {resolved} resolved; open past their follow-up time: "
        "{overdue_followups}; leads with an overdue next step: {overdue_next_steps}".format(
            **figures["tickets"]
        ),
    ]
    return "\n".join(lines)


def _split(per: dict[str, int]) -> str:
    return f" ({_pairs(per)})" if per else ""


def _pairs(per: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in per.items())


def _latency_lines(figures: dict[str, Any]) -> list[str]:
    rows = [("all", figures["all"]), *figures["by_rep"].items()]
    return [
        f"  {name}: {spread['count']}, median {_span(spread['median'])}, p90 {_span(spread['p90'])}"
        for name, spread in rows
        if spread["count"] or name == "all"
    ]


def _rating_lines(figures: dict[str, Any]) -> list[str]:
    rows = [
        ("all", figures["all"]),
        *figures["by_rep"].items(),
        *((f"{name} (channel)", value) for name, value in figures["by_channel"].items()),
    ]
    return [
        f"  {name}: {r['count']} ratings, average {_or_dash(r['average'])}"
        + (f", {r['satisfied']:.0%} satisfied" if r["satisfied"] is not None else "")
        for name, r in rows
        if r["count"] or name == "all"
    ]


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
