"""What a person records about a contact outside the channels: a phone call, a meeting, a
note (`touchpoint contacts log`, or the console). It lands on the contact's timeline as
`offline_logged`, the operator's, with the person's rep id."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.records import Rep
from bot.turn import ContactEvent, Context, Event
from handlers.contact_info import without_controls

MEDIUMS = ("call", "meeting", "note")
OUTCOME_LIMIT = 2000
# A time a little ahead of the server's clock is the person's clock, not the future.
CLOCK_SLACK = timedelta(minutes=5)


class CannotLog(Exception):
    """Why the contact point cannot be recorded: `code` is "medium", "outcome" or "future"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def log_refusal(medium: str, outcome: str, at: datetime, now: datetime) -> str | None:
    """Why this cannot be logged ("medium", "outcome", "future"), or None."""
    if medium not in MEDIUMS:
        return "medium"
    if not without_controls(outcome).strip():
        return "outcome"
    if at > now + CLOCK_SLACK:
        return "future"
    return None


async def log_offline(
    ctx: Context, contact_id: int, person: Rep, medium: str, outcome: str, at: datetime,
    now: datetime,
) -> tuple[ContactEvent, ...] | None:  # fmt: skip
    """The contact point on the contact's timeline; None when there is no such contact.
    Raises `CannotLog` when it is not one to record."""
    refusal = log_refusal(medium, outcome, at, now)
    if refusal is not None:
        raise CannotLog(refusal)
    if await ctx.uow.contacts.get(contact_id) is None:
        return None
    details = {
        "medium": medium,
        "outcome": without_controls(outcome).strip()[:OUTCOME_LIMIT],
        "at": at.isoformat(),
        "rep_id": person.id,
    }
    return (ContactEvent(contact_id, Event(Kind.OFFLINE_LOGGED, details, Actor.OPERATOR)),)
