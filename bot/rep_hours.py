"""When reps are on duty: days of the week and a time window in the company's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class RepHours:
    start: time
    end: time
    days: frozenset[int]  # 0 = Monday
    zone: ZoneInfo

    @classmethod
    def parse(cls, hours: str, days: str, zone: str) -> RepHours:
        """`"09:00-18:00"`, `"mon-fri"` (or `"mon,wed,sat"`), an IANA zone; ValueError if not."""
        start, _, end = hours.partition("-")
        return cls(
            time.fromisoformat(start.strip()),
            time.fromisoformat(end.strip()),
            _days(days),
            ZoneInfo(zone),
        )

    def open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment reps are on duty (`moment` itself when they are)."""
        if self.open_at(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            opening = datetime.combine(day, self.start, tzinfo=self.zone)
            if day.weekday() in self.days and opening > local:
                return opening
        return moment

    def describe(self) -> str:
        first, last = min(self.days), max(self.days)
        return f"{DAYS[first]}-{DAYS[last]} {self.start:%H:%M}-{self.end:%H:%M} ({self.zone.key})"


def _days(text: str) -> frozenset[int]:
    text = text.strip().lower()
    if "-" in text:
        first, _, last = text.partition("-")
        return frozenset(range(DAYS.index(first.strip()), DAYS.index(last.strip()) + 1))
    return frozenset(DAYS.index(day.strip()) for day in text.split(","))
