"""When a rep's next step is due, as a rep types it after `/next N`.

Read in the company's time zone: `2026-12-24 15:00`, `2026-12-24` (09:00 that day), `15:00`
(today, or tomorrow when that time has passed), `tomorrow` / `завтра` (09:00) with an
optional time, and spans from now: `+2h`, `in 30m`, `3d`, `через 2ч`. What follows the time
is the step itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MORNING = time(9, 0)
_CLOCK = r"(?P<clock>\d{1,2}:\d{2})"
_DATE = re.compile(rf"^(?P<date>\d{{4}}-\d{{2}}-\d{{2}})(?:[ T]{_CLOCK})?(?:\s+|$)")
_TOMORROW = re.compile(rf"^(?:tomorrow|завтра)(?:\s+{_CLOCK})?(?:\s+|$)", re.IGNORECASE)
_TODAY_AT = re.compile(rf"^{_CLOCK}(?:\s+|$)")
_SPAN = re.compile(
    r"^(?:in\s+|через\s+|\+)?(?P<n>\d{1,4})\s?(?P<unit>m|min|h|d|м|мин|ч|д)\b\.?\s*",
    re.IGNORECASE,
)
_UNITS = {"m": "minutes", "min": "minutes", "м": "minutes", "мин": "minutes"}
_UNITS |= {"h": "hours", "ч": "hours", "d": "days", "д": "days"}


def parse_due(text: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, str] | None:
    """The moment a `/next` line names and the step after it; None when it names no time."""
    text = text.strip()
    try:
        found = _moment(text, now, zone)
    except ValueError:  # 25:00, 2026-02-30
        return None
    if found is None:
        return None
    moment, end = found
    return moment, text[end:].strip()


def _moment(text: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, int] | None:
    today = now.astimezone(zone).date()
    if found := _SPAN.match(text):
        unit = _UNITS[found["unit"].lower()]
        return now + timedelta(**{unit: int(found["n"])}), found.end()
    if found := _DATE.match(text):
        return _at(date.fromisoformat(found["date"]), found["clock"], zone), found.end()
    if found := _TOMORROW.match(text):
        return _at(today + timedelta(days=1), found["clock"], zone), found.end()
    if found := _TODAY_AT.match(text):
        moment = _at(today, found["clock"], zone)
        return (moment if moment > now else moment + timedelta(days=1)), found.end()
    return None


def _at(day: date, clock: str | None, zone: ZoneInfo) -> datetime:
    """`day` at `clock` (09:00 without one) in `zone`; ValueError for a time like 25:00."""
    moment = time.fromisoformat(clock.zfill(5)) if clock else MORNING
    return datetime.combine(day, moment, tzinfo=zone)
