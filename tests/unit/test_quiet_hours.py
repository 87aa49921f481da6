"""Quiet hours: which moments they hold, when they end, and the setting that names them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.rep_hours import QuietHours
from bot.settings import SettingsError, load_settings

NIGHT = QuietHours.parse("21:00-08:00", "Europe/Berlin")  # CET in March: UTC+1


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "held", "until"),
    [
        (utc(2, 19, 59), False, utc(2, 19, 59)),  # 20:59 in Berlin
        (utc(2, 20, 0), True, utc(3, 7, 0)),  # 21:00 → 08:00 next morning
        (utc(2, 23, 30), True, utc(3, 7, 0)),  # after midnight in Berlin
        (utc(3, 6, 59), True, utc(3, 7, 0)),
        (utc(3, 7, 0), False, utc(3, 7, 0)),
    ],
)
def test_a_night_across_midnight(moment: datetime, held: bool, until: datetime) -> None:
    assert NIGHT.holds(moment) is held
    assert NIGHT.over_at(moment) == until


def test_quiet_hours_within_one_day() -> None:
    lunch = QuietHours.parse("13:00-14:00", "UTC")
    assert not lunch.holds(utc(2, 12, 59))
    assert lunch.holds(utc(2, 13, 30))
    assert lunch.over_at(utc(2, 13, 30)) == utc(2, 14, 0)
    assert not lunch.holds(utc(2, 14, 0))


def test_the_end_of_the_night_follows_the_clock_change() -> None:
    # Berlin moves to summer time on 29 March 2026: 08:00 CEST is 06:00 UTC.
    assert NIGHT.over_at(datetime(2026, 3, 28, 22, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["21:00", "late-early", "08:00-08:00", "25:00-07:00"])
def test_a_wrong_setting_is_one_line_naming_it(value: str) -> None:
    with pytest.raises(SettingsError, match=r"QUIET_HOURS"):
        load_settings(_env_file=None, quiet_hours=value, timezone="UTC")


def test_the_settings_default_to_no_quiet_hours_and_a_half_hour_queue() -> None:
    settings = load_settings(_env_file=None, timezone="UTC")
    assert (settings.quiet_hours, settings.handoff_queue_minutes) == ("", 30.0)
