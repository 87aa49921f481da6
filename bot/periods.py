"""Reading a report's period from words: `touchpoint report --since/--until` and the console's
dashboard read the same dates the same way, so one period means the same figures in both."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from bot.reports import Period

DEFAULT_DAYS = 30


class PeriodError(ValueError):
    """A date that is not one, or a period that ends before it starts (the message says which)."""


def read_moment(text: str, zone: tzinfo, name: str, *, day_end: bool = False) -> datetime:
    """A day (its start; with `day_end` the next day's, so the day is included) or an ISO time,
    in `zone` when it names none."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=day_end)
            return datetime.combine(day, time(), tzinfo=zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"{name} {text!r} is not a date like 2026-12-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def report_period(since: str | None, until: str | None, zone: tzinfo, now: datetime) -> Period:
    """From `since` up to `until` (not included); by default up to now, and `DEFAULT_DAYS`
    before the end."""
    end = read_moment(until, zone, "--until") if until else now
    start = read_moment(since, zone, "--since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise PeriodError("--since must come before --until")
    return Period(start, end)


def last_days(days: int, zone: tzinfo, now: datetime) -> tuple[date, date]:
    """The dates (since, until not included) of the last `days` days, today the last of them."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)
