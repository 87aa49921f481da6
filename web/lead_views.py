"""A lead as the console shows it: a card on the board, with its age and whether its next
step is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.records import Lead
from storage.uow import UnitOfWork

NEED_PREVIEW = 120


@dataclass(frozen=True, slots=True)
class Age:
    """How long ago, in the largest whole unit: minutes, hours or days."""

    count: int
    unit: str  # "minutes", "hours", "days"


@dataclass(frozen=True, slots=True)
class Card:
    lead: Lead
    owner: str | None
    channel: str | None
    need: str
    age: Age
    overdue: bool


def age_of(moment: datetime, now: datetime) -> Age:
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return Age(minutes, "minutes")
    if minutes < 48 * 60:
        return Age(minutes // 60, "hours")
    return Age(minutes // (24 * 60), "days")


def short(text: str, limit: int = NEED_PREVIEW) -> str:
    """One line of at most `limit` characters, cut with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def overdue(lead: Lead, now: datetime) -> bool:
    due = lead.next_step_due_at
    return lead.open and due is not None and due < now


def card_of(lead: Lead, names: dict[int, str], channel: str | None, now: datetime) -> Card:
    owner = names.get(lead.owner_rep_id) if lead.owner_rep_id else None
    return Card(
        lead, owner, channel, short(lead.need), age_of(lead.created_at, now), overdue(lead, now)
    )


async def rep_names(uow: UnitOfWork) -> dict[int, str]:
    """Every rep's name, a removed rep's too (their leads and notes stay theirs)."""
    return {rep.id: rep.name for rep in await uow.reps.search(include_inactive=True)}
