"""What every CLI command shares: settings with a one-line error, and the database to read or
change (built by the composition root)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, tzinfo
from typing import TypeVar

import typer

from bot.bootstrap import SchemaBehind, build_dispatcher, build_services, open_database
from bot.dates import read_moment
from bot.dispatch import ContactAction, Dispatcher, SystemAction
from bot.logs import configure_logging
from bot.records import Rep
from bot.settings import Settings, SettingsError, load_settings, unknown_settings
from bot.turn import OperatorChange, Services, TeamAction, TeamChange
from handlers.office import is_manager
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
CLI_CHANNEL = "cli"  # the channel of touchpoints an operator's command records


def settings_or_exit() -> Settings:
    """The settings, or a one-line error naming the bad setting and exit code 2."""
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(2) from None
    _warn_about_unknown_settings()
    configure_logging(settings)
    for warning in settings.deprecated:
        log.warning(warning)
    return settings


@functools.cache
def _warn_about_unknown_settings() -> None:
    """Once per command, however often it reads the settings."""
    for warning in unknown_settings(os.environ):
        typer.echo(f"touchpoint: {warning}", err=True)


def reading(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `work` in one transaction that changes nothing (the schema is not migrated)."""
    return _with_store(work, migrate=False)


def writing(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction, on a schema brought up to date first."""
    return _with_store(work, migrate=True)


def writing_with(work: Callable[[UnitOfWork, Services], Awaitable[T]]) -> T:
    """`writing`, for work that needs what the business needs (texts, channel capabilities)."""
    services = build_services(settings_or_exit())
    return writing(lambda uow: work(uow, services))


def _with_store(work: Callable[[UnitOfWork], Awaitable[T]], *, migrate: bool) -> T:
    settings = settings_or_exit()

    async def _run() -> T:
        async with (
            open_database(settings, migrate=migrate) as database,
            database.transaction() as uow,
        ):
            value = await work(uow)
            if migrate:
                await uow.commit()
            return value

    try:
        return asyncio.run(_run())
    except SchemaBehind as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(2) from None


def operator_turn(change: OperatorChange) -> bool:
    """Run a person's change (handlers/office.py) through the dispatcher, as the console does."""
    return with_dispatcher(lambda dispatcher: dispatcher.operator_turn(change, channel=CLI_CHANNEL))


def team_turn(action: TeamAction) -> tuple[TeamChange, list[bool]] | None:
    """Run a manager's change to the team (handlers/team_admin.py) through the dispatcher, as
    the console does: None when it did not apply."""
    return with_dispatcher(lambda dispatcher: dispatcher.team_turn(action, channel=CLI_CHANNEL))


def system_turn(conversation_id: int, action: SystemAction) -> bool:
    """Run `action` as a turn of the conversation, as the bot would (locked, recorded)."""
    return system_turns([(conversation_id, action)])[0]


def system_turns(actions: Sequence[tuple[int, SystemAction]]) -> list[bool]:
    """`system_turn` for each (conversation, action), one after the other, each committed
    on its own; which of them applied."""

    async def run(dispatcher: Dispatcher) -> list[bool]:
        return [await dispatcher.system_turn(c, action) for c, action in actions]

    return with_dispatcher(run)


def contact_turn(action: ContactAction) -> bool:
    """Run an operator's change outside any conversation through the dispatcher, its
    touchpoints on the contacts' timelines."""
    return with_dispatcher(lambda dispatcher: dispatcher.contact_turn(action, channel=CLI_CHANNEL))


def with_dispatcher(work: Callable[[Dispatcher], Awaitable[T]]) -> T:
    """`work` with the dispatcher, on a schema brought up to date: an operator's turns, run
    by the core operations the console runs too."""
    settings = settings_or_exit()

    async def _run() -> T:
        async with open_database(settings, migrate=True) as database:
            return await work(build_dispatcher(settings, database))

    return asyncio.run(_run())


def moment_option(text: str, zone: tzinfo, option: str, *, day_end: bool = False) -> datetime:
    """`--since`/`--until` (bot/dates.py); a one-line error and exit code 2 when it is not a
    day or a moment."""
    try:
        return read_moment(text, zone, day_end=day_end)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date like 2026-12-31", 2) from None


def not_found(what: str) -> typer.Exit:
    typer.echo(f"touchpoint: {what} not found", err=True)
    return typer.Exit(1)


def unreachable_here(rep: Rep) -> str | None:
    """Why a card to `rep` could not leave this deployment (None when it can): no address at
    all, or the channel it would go by is not configured."""
    address = rep.reached_at
    if address is None:
        return f"rep {rep.id} ({rep.name}) has no address to be reached at"
    settings = settings_or_exit()
    configured = {"telegram": settings.telegram_configured, "email": settings.email_configured}
    if not configured.get(address.channel, False):
        return (
            f"rep {rep.id} ({rep.name}) is reached by {address.channel}, "
            "which is not configured here: the card could not be sent"
        )
    return None


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"touchpoint: {message}", err=True)
    return typer.Exit(code)


def person(name: str, option: str = "--as") -> Rep:
    """The registered rep or manager `name` names (any case, or their id): who acts with
    `--as`, or who is meant with `--rep`/`--owner`; a one-line error when nobody or several."""
    wanted = name.strip().casefold()
    team = reading(lambda uow: uow.reps.search())
    found = [rep for rep in team if rep.name.casefold() == wanted or str(rep.id) == wanted]
    if not found:
        raise fail(f"{option} {name}: no rep or manager of that name (touchpoint reps list)")
    if len(found) > 1:
        ids = ", ".join(str(rep.id) for rep in found)
        raise fail(f"{option} {name}: {len(found)} reps have that name (ids {ids}): give the id")
    return found[0]


def manager(name: str) -> Rep:
    """`person(name)`, who must be a manager."""
    found = person(name)
    if not is_manager(found):
        raise fail(f"--as {name}: {found.name} is a rep; only a manager may do this")
    return found
