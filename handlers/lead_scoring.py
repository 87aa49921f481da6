"""A lead's score (0–100) from its answers: simple, explainable points an operator can read.

Points: a described need (20, +10 when detailed), a company (15), a way to reach them (15 for
each of email and phone), a budget (15, +5 with a figure), a timeline (10, +5 when urgent).
An answer that says there is none ("no budget yet", "no rush") earns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from handlers.budgets_and_dates import NO_BUDGET, NO_DEADLINE

URGENT = re.compile(
    r"\b(asap|urgent\w*|today|tomorrow|this week|this month|immediately|right away|"
    r"срочно|сегодня|завтра|на этой неделе|в этом месяце|немедленно|как можно скорее)\b",
    re.IGNORECASE,
)
DETAILED_NEED_WORDS = 8


def score_lead(answers: Mapping[str, Any]) -> int:
    points = _need_points(str(answers.get("need") or ""))
    points += 15 if answers.get("company") else 0
    points += 15 if answers.get("email") else 0
    points += 15 if answers.get("phone") else 0
    points += _budget_points(str(answers.get("budget") or ""))
    points += _timeline_points(str(answers.get("timeline") or ""))
    return min(points, 100)


def _need_points(need: str) -> int:
    if not need.strip():
        return 0
    return 30 if len(need.split()) >= DETAILED_NEED_WORDS else 20


def _budget_points(budget: str) -> int:
    if not budget.strip() or NO_BUDGET.search(budget):
        return 0
    return 20 if re.search(r"\d", budget) else 15


def _timeline_points(timeline: str) -> int:
    if not timeline.strip() or NO_DEADLINE.search(timeline):
        return 0
    return 15 if URGENT.search(timeline) else 10
