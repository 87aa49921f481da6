"""`touchpoint reps`: register the sales reps who take hand-offs (handlers/team_admin.py, the
same changes as the console's team page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from bot.cli import output as out
from bot.cli.common import not_found, reading, team_turn
from bot.turn import TeamAction, TeamChange
from handlers import team_admin
from handlers.team_admin import BadTeamInput, NewRep
from storage.repos.reps import AddressTaken

reps_app = typer.Typer(help="Sales reps who take hand-offs.", no_args_is_help=True)
T = TypeVar("T")

Languages = Annotated[str, typer.Option("--lang", help="Languages the rep speaks, e.g. en,ru.")]
Telegram = Annotated[str | None, typer.Option("--telegram", help="The rep's Telegram user id.")]
Email = Annotated[str | None, typer.Option("--email", help="The rep's email address.")]
Role = Annotated[str, typer.Option(help="rep or manager.")]
Capacity = Annotated[int, typer.Option(min=1, max=100, help="Open conversations at once.")]


def _checked(read: Callable[[], T]) -> T:
    """What the manager typed, or the option's one-line error (exit code 2)."""
    try:
        return read()
    except BadTeamInput as error:
        raise typer.BadParameter(error.reason, param_hint=f"--{error.field}") from None


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


def _run(action: TeamAction) -> tuple[TeamChange, list[bool]] | None:
    try:
        return team_turn(action)
    except AddressTaken as error:
        raise _taken(error) from None


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
    new = _checked(
        lambda: NewRep(
            name.strip(),
            team_admin.languages(lang),
            team_admin.identities(telegram, email),
            team_admin.role(role),
            capacity,
        )
    )
    done = _run(team_admin.add(new))
    assert done is not None
    change, applied = done
    typer.echo(f"rep {change.rep_id} added")
    if offered := [lead for lead, ok in zip(change.leads, applied, strict=True) if ok]:
        typer.echo(f"waiting leads offered: {', '.join(str(lead_id) for lead_id in offered)}")


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
        "languages": _checked(lambda: team_admin.languages(lang)) if lang else None,
        "role": _checked(lambda: team_admin.role(role)) if role else None,
        "capacity": capacity,
    }
    changes = {key: value for key, value in values.items() if value is not None}
    identities = _checked(lambda: team_admin.identities(telegram, email))
    if not changes and not identities:
        raise typer.BadParameter("nothing to change")
    if _run(team_admin.update(rep_id, changes, identities)) is None:
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} updated")


@reps_app.command("list")
def list_reps(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List active reps."""
    out.reps(reading(lambda uow: uow.reps.search()), as_json)


@reps_app.command("remove")
def remove(rep_id: int) -> None:
    """Remove a rep (kept as inactive when hand-offs refer to them)."""
    if _run(team_admin.remove(rep_id)) is None:
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} removed")


@reps_app.command("restore")
def restore(rep_id: int) -> None:
    """Bring back a removed rep (kept, inactive, because hand-offs refer to them)."""
    if _run(team_admin.restore(rep_id)) is None:
        raise not_found(f"removed rep {rep_id}")
    typer.echo(f"rep {rep_id} is back (off duty until they say /online)")


@reps_app.command("rotate-token")
def rotate_token(rep_id: int) -> None:
    """Give a rep a new secret reply address for mail: answers under the old one no longer
    count as the rep's (do it when a rep's mailbox or a forwarded mail may have leaked it)."""
    if _run(team_admin.rotate_token(rep_id)) is None:
        raise not_found(f"rep {rep_id}")
    typer.echo(f"rep {rep_id} has a new reply address; mail to the old one is not theirs")
