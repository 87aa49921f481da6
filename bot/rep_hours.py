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


@dataclass(frozen=True, slots=True)
class QuietHours:
    """When the bot writes to no customer of its own accord (QUIET_HOURS, in the company's
    time zone): `21:00-08:00` spans midnight, `13:00-14:00` does not."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, hours: str, zone: str) -> QuietHours:
        """`"21:00-08:00"` and an IANA zone; ValueError when it is not a span of two times."""
        start, dash, end = hours.partition("-")
        if not dash:
            raise ValueError(f"use HH:MM-HH:MM, e.g. 21:00-08:00 (not {hours!r})")
        begins, ends = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        quiet = cls(begins, ends, ZoneInfo(zone))
        if quiet.start == quiet.end:
            raise ValueError("the quiet hours start and end at the same time")
        return quiet

    def holds(self, moment: datetime) -> bool:
        """Whether `moment` falls in the quiet hours."""
        now = moment.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def over_at(self, moment: datetime) -> datetime:
        """When the quiet hours around `moment` end (`moment` itself outside them)."""
        if not self.holds(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(2):
            end = datetime.combine((local + timedelta(days=offset)).date(), self.end, self.zone)
            if end > local:
                return end
        return moment
