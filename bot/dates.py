"""Reading a day or a moment a person typed (`--since`/`--until`, a console filter)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo


def read_moment(text: str, zone: tzinfo, *, day_end: bool = False) -> datetime:
    """A day (its start; with `day_end` the next day's, so the day is included) or an ISO
    time, in `zone` when it names none. Raises ValueError when it is neither."""
    value = text.strip()
    if len(value) == 10:
        day = date.fromisoformat(value) + timedelta(days=day_end)
        return datetime.combine(day, time(), tzinfo=zone)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
