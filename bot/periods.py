"""Reading a report's period from words: `touchpoint report --since/--until` and the console's
dashboard read the same dates the same way, so one period means the same figures in both."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from bot.dates import read_moment
from bot.reports import Period

DEFAULT_DAYS = 30


class PeriodError(ValueError):
    """A date that is not one, or a period that ends before it starts (the message says which)."""


def _moment(text: str, zone: tzinfo, name: str, *, day_end: bool = False) -> datetime:
    try:
        return read_moment(text, zone, day_end=day_end)
    except ValueError:
        raise PeriodError(f"{name} {text!r} is not a date like 2026-12-31") from None


def report_period(since: str | None, until: str | None, zone: tzinfo, now: datetime) -> Period:
    """From `since` up to `until` (not included); by default up to now, and `DEFAULT_DAYS`
    before the end."""
    end = _moment(until, zone, "--until") if until else now
    start = _moment(since, zone, "--since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise PeriodError("--since must come before --until")
    return Period(start, end)


def last_days(days: int, zone: tzinfo, now: datetime) -> tuple[date, date]:
    """The dates (since, until not included) of the last `days` days, today the last of them."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)
