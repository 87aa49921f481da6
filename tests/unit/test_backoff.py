"""The one backoff: exponential, capped, with full jitter."""

from __future__ import annotations

import pytest

from bot.backoff import full_jitter


@pytest.mark.parametrize(
    ("failures", "ceiling"), [(0, 2.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (7, 100.0)]
)
def test_the_ceiling_doubles_per_failure_up_to_the_cap(failures: int, ceiling: float) -> None:
    assert full_jitter(failures, base=2.0, cap=100.0, draw=lambda: 1.0) == ceiling


def test_the_wait_is_drawn_between_zero_and_the_ceiling() -> None:
    assert full_jitter(3, base=2.0, cap=100.0, draw=lambda: 0.0) == 0.0
    assert full_jitter(3, base=2.0, cap=100.0, draw=lambda: 0.25) == 2.0
    waits = [full_jitter(3, base=2.0, cap=100.0) for _ in range(200)]
    assert all(0.0 <= wait <= 8.0 for wait in waits)
    assert len(set(waits)) > 100  # spread out, not all the same


def test_a_very_long_run_of_failures_stays_at_the_cap() -> None:
    assert full_jitter(10_000, base=1.0, cap=60.0, draw=lambda: 1.0) == 60.0
