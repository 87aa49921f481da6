"""The touchpoints behind a figure of `touchpoint report`: the same rows, chosen by the same
rules (`bot.reports`), so a figure and the list behind it always agree.

A figure is one of `FIGURES`; a rep is a rep id, or `NO_REP` for touchpoints no rep is named on
(a rating of the bot's own conversation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot import reports
from bot.kinds import TouchpointKind as Kind
from bot.records import TouchpointRow
from storage.uow import UnitOfWork

NO_REP = 0
Rule = Callable[[TouchpointRow], bool]


@dataclass(frozen=True, slots=True)
class Figure:
    kinds: tuple[str, ...]
    counts: Rule


FIGURES: dict[str, Figure] = {
    "conversations": Figure(reports.ACTIVITY, lambda t: True),
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


async def rows(uow: UnitOfWork, wanted: Wanted) -> list[TouchpointRow]:
    """Every touchpoint behind the figure, newest first."""
    figure = FIGURES[wanted.figure]
    found = await _candidates(uow, wanted, figure.kinds)
    return [t for t in found if figure.counts(t) and _matches(t, wanted)]


async def _candidates(uow: UnitOfWork, wanted: Wanted, kinds: Sequence[str]) -> list[TouchpointRow]:
    since, until = wanted.period.since, wanted.period.until
    if wanted.figure == "conversations":  # counted once per conversation
        return await uow.touchpoints.first_per_conversation(
            kinds, since, until, channel=wanted.channel
        )
    return list(reversed(await uow.touchpoints.of_kinds(kinds, since, until)))


def _matches(touchpoint: TouchpointRow, wanted: Wanted) -> bool:
    if wanted.channel is not None and touchpoint.channel != wanted.channel:
        return False
    return wanted.rep_id is None or rep_of(touchpoint) == wanted.rep_id


def rep_of(touchpoint: TouchpointRow) -> int:
    """The rep a touchpoint names (`NO_REP` when none)."""
    rep_id = touchpoint.details.get("rep_id")
    return int(rep_id) if rep_id is not None else NO_REP
