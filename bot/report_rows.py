"""The touchpoints behind a figure of `touchpoint report`: the same rows, chosen by the same
rules (`bot.reports`), so a figure and the list behind it always agree.

A figure is one of `FIGURES`; a rep is a rep id, or `NO_REP` for touchpoints no rep is named on
(a rating of the bot's own conversation).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot import reports
from bot.kinds import ACTIVITY
from bot.kinds import TouchpointKind as Kind
from bot.records import TouchpointRow
from storage.repos.touchpoints import FirstsWanted
from storage.uow import UnitOfWork

NO_REP = 0
Rule = Callable[[TouchpointRow], bool]


@dataclass(frozen=True, slots=True)
class Figure:
    kinds: tuple[str, ...]
    counts: Rule


FIGURES: dict[str, Figure] = {
    "conversations": Figure(ACTIVITY, lambda t: True),
    "speed_to_lead": Figure((Kind.LEAD_CONTACTED,), reports.timed),
    "claim": Figure((Kind.REP_CLAIMED,), reports.timed),
    "first_reply": Figure((Kind.REP_REPLIED,), lambda t: reports.timed(t, first_only=True)),
    "csat": Figure((reports.CSAT_RATED,), reports.a_rating),
}


@dataclass(frozen=True, slots=True)
class Wanted:
    figure: str  # a key of FIGURES
    period: reports.Period
    rep_id: int | None = None  # NO_REP: none named
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    total: int
    rows: list[TouchpointRow]


async def page(
    uow: UnitOfWork,
    wanted: Wanted,
    *,
    contacts: Collection[int] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """How many touchpoints are behind the figure (of `contacts` only, when given), and
    `limit` of them from `offset`, newest first."""
    if wanted.figure == "conversations":  # counted once per conversation, in the database
        firsts = FirstsWanted(wanted.channel, contacts, offset, limit)
        total, found = await uow.touchpoints.first_per_conversation(
            ACTIVITY, wanted.period.since, wanted.period.until, firsts
        )
        return Page(total, found)
    every = await _counted(uow, wanted)
    if contacts is not None:
        every = [row for row in every if row.contact_id in contacts]
    return Page(len(every), every[offset : offset + limit])


async def _counted(uow: UnitOfWork, wanted: Wanted) -> list[TouchpointRow]:
    """Every touchpoint behind a figure counted in Python (a period holds thousands, not
    millions: leads, hand-offs and ratings), newest first."""
    figure = FIGURES[wanted.figure]
    since, until = wanted.period.since, wanted.period.until
    found = reversed(await uow.touchpoints.of_kinds(figure.kinds, since, until))
    return [t for t in found if figure.counts(t) and _matches(t, wanted)]


def _matches(touchpoint: TouchpointRow, wanted: Wanted) -> bool:
    if wanted.channel is not None and touchpoint.channel != wanted.channel:
        return False
    return wanted.rep_id is None or rep_of(touchpoint) == wanted.rep_id


def rep_of(touchpoint: TouchpointRow) -> int:
    """The rep a touchpoint names (`NO_REP` when none)."""
    rep_id = touchpoint.details.get("rep_id")
    return int(rep_id) if rep_id is not None else NO_REP
