"""The period a dashboard page shows, from its `since`/`until` dates (both included, like every
date filter of the console), read by the same reader as `touchpoint report`: the page for
2026-11-01 … 2026-11-30 shows what `touchpoint report --since 2026-11-01 --until 2026-12-01`
prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from urllib.parse import urlencode

from bot.periods import DEFAULT_DAYS, PeriodError, last_days, report_period
from bot.reports import Period

QUICK_DAYS = (7, 30, 90, 365)
LONGEST = timedelta(days=3 * 366)  # what a page may ask for: bounded work per request
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ShownPeriod:
    period: Period
    since: date
    until: date  # included

    @property
    def query(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}

    @property
    def query_string(self) -> str:
        return urlencode(self.query)

    @property
    def cli_command(self) -> str:
        """The same figures from the command line."""
        after = (self.until + DAY).isoformat()
        return f"touchpoint report --since {self.since.isoformat()} --until {after}"


def shown_period(query: Mapping[str, str], zone: tzinfo, now: datetime) -> ShownPeriod:
    """The period of a page's query; the last `DEFAULT_DAYS` days by default. `PeriodError`
    when a date is not one, the period is backwards or longer than `LONGEST`."""
    first, after = last_days(DEFAULT_DAYS, zone, now)
    since = _day(query.get("since"), first, "since")
    until = _day(query.get("until"), after - DAY, "until")
    period = report_period(since.isoformat(), (until + DAY).isoformat(), zone, now)
    if period.until - period.since > LONGEST:
        raise PeriodError("the period is longer than three years")
    return ShownPeriod(period, since, until)


def quick_choices(zone: tzinfo, now: datetime) -> list[tuple[int, ShownPeriod]]:
    """The last 7, 30, 90 and 365 days, today included."""
    chosen = []
    for days in QUICK_DAYS:
        first, after = last_days(days, zone, now)
        chosen.append(
            (days, shown_period({"since": str(first), "until": str(after - DAY)}, zone, now))
        )
    return chosen


def _day(text: str | None, default: date, name: str) -> date:
    if not text or not text.strip():
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{name} {text[:40]!r} is not a date like 2026-12-31") from None
