"""A manager's changes to the sales team, the same from the CLI (`touchpoint reps`) and the
console's team page: each a `TeamAction` the dispatcher runs as a turn of its own
(`Dispatcher.team_turn`), its events the operator's.

- `add` registers a rep (their first mail carries their secret reply address, handlers/team.py)
  and offers them the leads that waited for anyone who could be told;
- `update`, `remove`, `restore`, `rotate_token` change a rep's record;
- `duty` puts a rep on or off duty, as their own /online and /offline do (rep_desk.online);
- `login_link` sends a rep a one-time link to the console, on their own channel.

What a manager types is checked here (`BadTeamInput` names the field and says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import Address
from bot.records import Rep
from bot.turn import (
    Action,
    Context,
    CustomerAction,
    Event,
    Result,
    TeamAction,
    TeamChange,
    Turn,
)
from handlers import rep_desk
from handlers.cards import notice_to
from handlers.console_links import link_notice
from handlers.contact_info import normalise_email
from handlers.lead_pipeline import offer_to_newcomer
from handlers.reps import rep_language
from handlers.team import welcome
from storage.repos.leads import LeadFilter

LANGUAGES = ("en", "ru")
ROLES = ("rep", "manager")
CAPACITY = range(1, 101)


class BadTeamInput(ValueError):
    """`field` (lang, telegram, email, role, capacity, name) cannot be used: `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NewRep:
    name: str
    languages: tuple[str, ...]
    identities: tuple[Address, ...]
    role: str = "rep"
    capacity: int = 5


# --- reading what a manager typed ---------------------------------------------------------------


def languages(value: str) -> tuple[str, ...]:
    codes = tuple(code.strip().lower() for code in value.split(",") if code.strip())
    if not codes or any(code not in LANGUAGES for code in codes):
        raise BadTeamInput("lang", "use en, ru or en,ru")
    return tuple(dict.fromkeys(codes))


def telegram(value: str | None) -> str | None:
    if value is not None and not value.strip().lstrip("-").isdigit():
        raise BadTeamInput("telegram", "a Telegram user id is a number")
    return value.strip() if value else None


def email(value: str | None) -> str | None:
    if value is None:
        return None
    normalised = normalise_email(value)
    if normalised is None:
        raise BadTeamInput("email", f"{value!r} is not an email address")
    return normalised


def identities(telegram_id: str | None, address: str | None) -> tuple[Address, ...]:
    given = (("telegram", telegram(telegram_id)), ("email", email(address)))
    return tuple(Address(channel, value) for channel, value in given if value)


def role(value: str) -> str:
    if value not in ROLES:
        raise BadTeamInput("role", "use rep or manager")
    return value


def capacity(value: int) -> int:
    if value not in CAPACITY:
        raise BadTeamInput("capacity", "between 1 and 100 conversations")
    return value


def name(value: str) -> str:
    if not value.strip() or len(value) > 100:
        raise BadTeamInput("name", "a name of 1 to 100 characters")
    return value.strip()


# --- the changes --------------------------------------------------------------------------------


def _event(kind: Kind, details: dict[str, Any]) -> Event:
    return Event(kind, details, Actor.OPERATOR)


def shown(addresses: Sequence[Address]) -> list[str]:
    return [f"{address.channel}:{address.value}" for address in addresses]


def add(new: NewRep) -> TeamAction:
    """Register `new` (AddressTaken when another rep has one of its addresses)."""

    async def action(ctx: Context, now: datetime) -> TeamChange:
        rep = await _register(ctx, new, now)
        details = {"rep_id": rep.id, "name": new.name, "role": new.role}
        details |= {"languages": new.languages, "identities": shown(new.identities)}
        waiting = await _waiting_leads(ctx)
        offers = (
            CustomerAction(conversation, _offer(lead, rep.id)) for lead, conversation in waiting
        )
        return TeamChange(
            rep.id,
            events=(_event(Kind.REP_ADDED, details),),
            notices=welcome(ctx, rep),
            customer=tuple(offers),
            leads=tuple(lead for lead, _ in waiting),
        )

    return action


async def _register(ctx: Context, new: NewRep, now: datetime) -> Rep:
    rep_id = await ctx.uow.reps.add(
        name=new.name,
        languages=new.languages,
        identities=list(new.identities),
        role=new.role,
        capacity=new.capacity,
        now=now,
    )
    rep = await ctx.uow.reps.get(rep_id)
    assert rep is not None
    return rep


async def _waiting_leads(ctx: Context) -> list[tuple[int, int]]:
    """Leads saved while nobody could be told of them (with their conversations), offered to
    a newcomer (handlers/lead_pipeline.offer_to_newcomer)."""
    where = LeadFilter(status="waiting", unowned=True)
    found = await ctx.uow.leads.search(where=where, order="oldest")
    return [(lead.id, lead.conversation_id) for lead in found if lead.conversation_id]


def _offer(lead_id: int, rep_id: int) -> Action:
    async def action(turn: Turn, ctx: Context) -> Result:
        rep = await ctx.uow.reps.get(rep_id)
        if rep is None:
            return Result()
        return await offer_to_newcomer(ctx, lead_id, turn.conversation, rep, turn.now)

    return action


def update(rep_id: int, changes: dict[str, Any], addresses: Sequence[Address]) -> TeamAction:
    """`changes` to the rep's record (name, languages, role, capacity); a new address on a
    channel replaces the rep's address there. None when there is no such rep."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        if changes and not await ctx.uow.reps.update(rep_id, **changes):
            return None
        for address in addresses:
            if not await ctx.uow.reps.set_identity(rep_id, address.channel, address.value, now=now):
                return None
        details = {"rep_id": rep_id, **changes, "identities": shown(addresses)}
        return TeamChange(rep_id, events=(_event(Kind.REP_UPDATED, details),))

    return action


def remove(rep_id: int) -> TeamAction:
    """The rep is removed (kept as inactive when hand-offs refer to them)."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        if not await ctx.uow.reps.remove(rep_id):
            return None
        return TeamChange(rep_id, events=(_event(Kind.REP_REMOVED, {"rep_id": rep_id}),))

    return action


def restore(rep_id: int) -> TeamAction:
    """A removed rep is back (off duty until they say /online)."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        rep = await ctx.uow.reps.get(rep_id)
        if rep is None or rep.active:
            return None
        await ctx.uow.reps.update(rep_id, active=True)
        details = {"rep_id": rep_id, "active": True}
        return TeamChange(rep_id, events=(_event(Kind.REP_UPDATED, details),))

    return action


def rotate_token(rep_id: int) -> TeamAction:
    """A new secret reply address for the rep's mail (told to them in a new first mail)."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        if not await ctx.uow.reps.rotate_reply_token(rep_id):
            return None
        rep = await ctx.uow.reps.get(rep_id)
        assert rep is not None
        details = {"rep_id": rep_id, "reply_token": "rotated"}
        event = _event(Kind.REP_UPDATED, details)
        return TeamChange(rep_id, events=(event,), notices=welcome(ctx, rep))

    return action


def duty(rep_id: int, on_duty: bool) -> TeamAction:
    """On or off duty, as the rep's own /online and /offline: coming on duty is offered what
    waits (rep_desk.online), and the rep is told either way."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        rep = await ctx.uow.reps.get(rep_id)
        if rep is None or not rep.active:
            return None
        if on_duty:
            desk = await rep_desk.online(ctx, rep, now)
            told, steps = desk.to_rep, desk.customer
        else:
            await ctx.uow.reps.update(rep.id, on_duty=False)
            told, steps = (ctx.say("rep.offline", rep_language(rep)),), ()
        event = _event(Kind.REP_UPDATED, {"rep_id": rep_id, "on_duty": on_duty})
        notices = tuple(notice_to(rep, text) for text in told)
        return TeamChange(rep_id, events=(event,), notices=notices, customer=steps)

    return action


# --- a sign-in link to the console --------------------------------------------------------------


def login_link(rep_id: int, *, by_rep_id: int | None = None) -> TeamAction:
    """A one-time sign-in link to the console, sent to the rep on their own channel (Telegram
    without a link preview: a preview would fetch the page). The secret is in the message
    only: the event says that a link went, by which channel, never what it was."""

    async def action(ctx: Context, now: datetime) -> TeamChange | None:
        rep = await ctx.uow.reps.get(rep_id)
        if rep is None or not rep.active or rep.reached_at is None:
            return None
        notice = await link_notice(ctx, rep, now, rep.reached_at)
        if notice is None:
            return None
        details: dict[str, Any] = {"rep_id": rep_id, "channel": notice.channel}
        if by_rep_id is not None:
            details["by_rep_id"] = by_rep_id
        return TeamChange(
            rep_id, events=(_event(Kind.LOGIN_LINK_SENT, details),), notices=(notice,)
        )

    return action
