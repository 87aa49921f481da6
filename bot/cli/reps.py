"""`touchpoint reps`: register the sales reps who take hand-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from bot.cli import output as out
from bot.cli.common import (
    CLI_CHANNEL,
    not_found,
    reading,
    system_turns,
    writing,
    writing_with,
)
from bot.dispatch import SystemAction
from bot.kinds import Actor
from bot.kinds import TouchpointKind as Kind
from bot.model import Address, utc_now
from bot.recorder import Touch, queue_notices, record
from bot.turn import Context, Result, Services, Turn
from handlers.contact_info import normalise_email
from handlers.lead_pipeline import offer_to_newcomer
from handlers.team import welcome
from storage.repos.leads import LeadFilter
from storage.repos.reps import AddressTaken
from storage.uow import UnitOfWork

reps_app = typer.Typer(help="Sales reps who take hand-offs.", no_args_is_help=True)

Languages = Annotated[str, typer.Option("--lang", help="Languages the rep speaks, e.g. en,ru.")]
Telegram = Annotated[str | None, typer.Option("--telegram", help="The rep's Telegram user id.")]
Email = Annotated[str | None, typer.Option("--email", help="The rep's email address.")]
Role = Annotated[str, typer.Option(help="rep or manager.")]
Capacity = Annotated[int, typer.Option(min=1, max=100, help="Open conversations at once.")]


def _languages(value: str) -> tuple[str, ...]:
    codes = tuple(code.strip().lower() for code in value.split(",") if code.strip())
    unknown = [code for code in codes if code not in ("en", "ru")]
    if not codes or unknown:
        raise typer.BadParameter("use en, ru or en,ru", param_hint="--lang")
    return codes


def _telegram(value: str | None) -> str | None:
    if value is not None and not value.strip().lstrip("-").isdigit():
        raise typer.BadParameter("a Telegram user id is a number", param_hint="--telegram")
    return value.strip() if value else None


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    normalised = normalise_email(value)
    if normalised is None:
        raise typer.BadParameter(f"{value!r} is not an email address", param_hint="--email")
    return normalised


def _identities(telegram: str | None, email: str | None) -> list[Address]:
    given = (("telegram", _telegram(telegram)), ("email", _email(email)))
    return [Address(channel, value) for channel, value in given if value]


def _taken(error: AddressTaken) -> typer.Exit:
    # The options are named after the channels: --telegram, --email.
    channel, value, holder = error.address.channel, error.address.value, error.holder_id
    rep = reading(lambda uow: uow.reps.get(holder))
    if rep is not None and not rep.active:
        typer.echo(
            f"touchpoint: --{channel} {value} is rep {holder}'s, who was removed: "
            f"`touchpoint reps restore {holder}` brings them back",
            err=True,
        )
    else:
        typer.echo(f"touchpoint: --{channel} {value} is already rep {holder}'s", err=True)
    return typer.Exit(1)


def _role(value: str) -> str:
    if value not in ("rep", "manager"):
        raise typer.BadParameter("use rep or manager", param_hint="--role")
    return value


@reps_app.command("add")
def add(
    name: str,
    lang: Languages = "en",
    telegram: Telegram = None,
    email: Email = None,
    role: Role = "rep",
    capacity: Capacity = 5,
) -> None:
    """Register a rep, reachable on Telegram and/or by email."""
    if telegram is None and email is None:
        raise typer.BadParameter("give --telegram and/or --email", param_hint="--telegram/--email")
    languages, identities = _languages(lang), _identities(telegram, email)
    role = _role(role)

    async def register(uow: UnitOfWork, services: Services) -> int:
        now = utc_now()
        rep_id = await uow.reps.add(
            name=name.strip(),
            languages=languages,
            identities=identities,
            role=role,
            capacity=capacity,
            now=now,
        )
        details = {"rep_id": rep_id, "name": name.strip(), "role": role, "languages": languages}
        await _record(uow, Kind.REP_ADDED, now, {**details, "identities": _shown(identities)})
        await _welcome(uow, services, rep_id, now)
        return rep_id

    try:
        rep_id = writing_with(register)
    except AddressTaken as error:
        raise _taken(error) from None
    typer.echo(f"rep {rep_id} added")
    if offered := _offer_waiting_leads(rep_id):
        typer.echo(f"waiting leads offered: {', '.join(str(lead_id) for lead_id in offered)}")


def _offer_waiting_leads(rep_id: int) -> list[int]:
    """Leads saved while nobody could be told of them, offered now that somebody can be, each
    as a turn of its conversation (handlers/lead_pipeline.offer_to_newcomer); those offered."""
    where = LeadFilter(status="waiting", unowned=True)
    waiting = reading(lambda uow: uow.leads.search(where=where, order="oldest"))
    turns = [(lead.conversation_id, _offer(lead.id, rep_id)) for lead in waiting]
    done = system_turns([(conversation, action) for conversation, action in turns if conversation])
    offered = [lead for lead in waiting if lead.conversation_id]
    return [lead.id for lead, applied in zip(offered, done, strict=True) if applied]


def _offer(lead_id: int, rep_id: int) -> SystemAction:
    async def action(turn: Turn, ctx: Context) -> Result | None:
        rep = await ctx.uow.reps.get(rep_id)
        if rep is None:
            return None
        offered = await offer_to_newcomer(ctx, lead_id, turn.conversation, rep, turn.now)
        return offered if offered.events else None

    return action


@reps_app.command("update")
def update(
    rep_id: int,
    name: Annotated[str | None, typer.Option()] = None,
    lang: Annotated[str | None, typer.Option("--lang")] = None,
    telegram: Telegram = None,
    email: Email = None,
    role: Annotated[str | None, typer.Option()] = None,
    capacity: Annotated[int | None, typer.Option(min=1, max=100)] = None,
) -> None:
    """Change a rep's details."""
    values: dict[str, Any] = {
        "name": name,
        "languages": _languages(lang) if lang else None,
        "role": _role(role) if role else None,
        "capacity": capacity,
    }
    changes = {key: value for key, value in values.items() if value is not None}
    identities = _identities(telegram, email)
    if not changes and not identities:
        raise typer.BadParameter("nothing to change")
    try:
        found = writing(lambda uow: _change(uow, rep_id, changes, identities))
    except AddressTaken as error:
        raise _taken(error) from None
    if not found:
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} updated")


async def _change(
    uow: UnitOfWork, rep_id: int, changes: dict[str, Any], identities: list[Address]
) -> bool:
    """Apply `reps update`: False when there is no such rep. A new address on a channel
    replaces the rep's address there."""
    if changes and not await uow.reps.update(rep_id, **changes):
        return False
    now = utc_now()
    found = all(
        [await uow.reps.set_identity(rep_id, a.channel, a.value, now=now) for a in identities]
    )
    if found:
        details = {"rep_id": rep_id, **changes, "identities": _shown(identities)}
        await _record(uow, Kind.REP_UPDATED, now, details)
    return found


@reps_app.command("list")
def list_reps(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List active reps."""
    out.reps(reading(lambda uow: uow.reps.search()), as_json)


@reps_app.command("remove")
def remove(rep_id: int) -> None:
    """Remove a rep (kept as inactive when hand-offs refer to them)."""

    async def unregister(uow: UnitOfWork) -> bool:
        removed = await uow.reps.remove(rep_id)
        if removed:
            await _record(uow, Kind.REP_REMOVED, utc_now(), {"rep_id": rep_id})
        return removed

    if not writing(unregister):
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} removed")


@reps_app.command("restore")
def restore(rep_id: int) -> None:
    """Bring back a removed rep (kept, inactive, because hand-offs refer to them)."""

    async def reactivate(uow: UnitOfWork) -> bool:
        rep = await uow.reps.get(rep_id)
        if rep is None or rep.active:
            return False
        await uow.reps.update(rep_id, active=True)
        await _record(uow, Kind.REP_UPDATED, utc_now(), {"rep_id": rep_id, "active": True})
        return True

    if not writing(reactivate):
        raise not_found(f"removed rep {rep_id}")
    typer.echo(f"rep {rep_id} is back (off duty until they say /online)")


@reps_app.command("rotate-token")
def rotate_token(rep_id: int) -> None:
    """Give a rep a new secret reply address for mail: answers under the old one no longer
    count as the rep's (do it when a rep's mailbox or a forwarded mail may have leaked it)."""

    async def rotate(uow: UnitOfWork, services: Services) -> bool:
        rotated = await uow.reps.rotate_reply_token(rep_id)
        if rotated:
            now = utc_now()
            await _record(uow, Kind.REP_UPDATED, now, {"rep_id": rep_id, "reply_token": "rotated"})
            await _welcome(uow, services, rep_id, now)
        return rotated

    if not writing_with(rotate):
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} has a new reply address; mail to the old one is not theirs")


async def _welcome(uow: UnitOfWork, services: Services, rep_id: int, now: datetime) -> None:
    """The rep's first mail, with their secret reply address (handlers/team.py)."""
    rep = await uow.reps.get(rep_id)
    if rep is not None:
        await queue_notices(uow, welcome(services.context(uow), rep), services, now)


async def _record(uow: UnitOfWork, kind: Kind, now: datetime, details: dict[str, Any]) -> None:
    """A manager's change to the team, on the record with its actor."""
    await record(uow, [Touch(kind, Actor.OPERATOR, CLI_CHANNEL, now, details)])


def _shown(identities: list[Address]) -> list[str]:
    return [f"{address.channel}:{address.value}" for address in identities]
