"""`touchpoint report` as a subprocess: the period read from --since/--until (the same reader
as the console's dashboard), leads per day in the JSON, and a bad date told in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conversations.test_lead_pipeline import ANN_OPENER, leave_lead
from tests.e2e.test_cli import prepared, touchpoint
from tests.harness import BotHarness

pytestmark = pytest.mark.slow


async def a_lead_on_monday(bot: BotHarness) -> None:
    await leave_lead(bot.customer("1001", channel="telegram", name="Ann"), ANN_OPENER)


def test_the_json_report_counts_leads_per_day_of_the_period(tmp_path: Path) -> None:
    prepared(tmp_path, a_lead_on_monday)  # 2 March 2026, 09:00 UTC
    done = touchpoint(
        tmp_path, "report", "--since", "2026-03-01T00:00Z", "--until", "2026-03-04T00:00Z",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["leads"]["total"] == 1
    assert figures["leads"]["by_day"] == {"2026-03-01": 0, "2026-03-02": 1, "2026-03-03": 0}


def test_a_bad_period_is_told_in_one_line(tmp_path: Path) -> None:
    prepared(tmp_path, a_lead_on_monday)
    bad = touchpoint(tmp_path, "report", "--since", "yesterday")
    assert (bad.returncode, bad.stderr) == (
        2, "touchpoint: --since 'yesterday' is not a date like 2026-12-31\n",
    )  # fmt: skip
    backwards = touchpoint(tmp_path, "report", "--since", "2026-03-05", "--until", "2026-03-01")
    assert (backwards.returncode, backwards.stderr) == (
        2, "touchpoint: --since must come before --until\n",
    )  # fmt: skip
