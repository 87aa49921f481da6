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
from bot.dispatch import ContactAction, SystemAction
from bot.logs import configure_logging
from bot.periods import PeriodError, read_moment
from bot.records import Rep
from bot.settings import Settings, SettingsError, load_settings, unknown_settings
from bot.turn import Services
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


def system_turn(conversation_id: int, action: SystemAction) -> bool:
    """Run `action` as a turn of the conversation, as the bot would (locked, recorded)."""
    return system_turns([(conversation_id, action)])[0]


def system_turns(actions: Sequence[tuple[int, SystemAction]]) -> list[bool]:
    """`system_turn` for each (conversation, action), one after the other, each committed
    on its own; which of them applied."""
    settings = settings_or_exit()

    async def _run() -> list[bool]:
        async with open_database(settings, migrate=True) as database:
            dispatcher = build_dispatcher(settings, database)
            return [await dispatcher.system_turn(c, action) for c, action in actions]

    return asyncio.run(_run())


def contact_turn(action: ContactAction) -> bool:
    """Run an operator's change outside any conversation through the dispatcher, its
    touchpoints on the contacts' timelines."""
    settings = settings_or_exit()

    async def _run() -> bool:
        async with open_database(settings, migrate=True) as database:
            dispatcher = build_dispatcher(settings, database)
            return await dispatcher.contact_turn(action, channel=CLI_CHANNEL)

    return asyncio.run(_run())


def moment_option(text: str, zone: tzinfo, option: str, *, day_end: bool = False) -> datetime:
    """`--since`/`--until`: a day (its start; with `day_end` the next day's, so the day is
    included) or an ISO time, in `zone` when it names none; a one-line error and exit code 2
    when it is neither."""
    try:
        return read_moment(text, zone, option, day_end=day_end)
    except PeriodError as error:
        raise fail(str(error), 2) from None


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
