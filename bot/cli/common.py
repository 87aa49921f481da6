"""What every CLI command shares: settings with a one-line error, and the database to read or
change (built by the composition root)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from bot.bootstrap import SchemaBehind, build_dispatcher, build_services, open_database
from bot.dispatch import ContactAction, SystemAction
from bot.logs import configure_logging
from bot.records import Rep
from bot.settings import Settings, SettingsError, load_settings, unknown_settings
from bot.turn import Services
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
    settings = settings_or_exit()

    async def _run() -> bool:
        async with open_database(settings, migrate=True) as database:
            return await build_dispatcher(settings, database).system_turn(conversation_id, action)

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


def not_found(what: str) -> typer.Exit:
    typer.echo(f"touchpoint: {what} not found", err=True)
    return typer.Exit(1)


def acting_rep(name: str) -> Rep:
    """The registered, active rep or manager `--as NAME` names (a name, any case, or an id);
    exit code 2 with one line when there is none, or several of that name."""
    reps = reading(lambda uow: uow.reps.search())
    wanted = name.strip()
    matching = [
        rep for rep in reps if rep.name.casefold() == wanted.casefold() or str(rep.id) == wanted
    ]
    if len(matching) == 1:
        return matching[0]
    problem = "several reps are named" if matching else "no registered rep is named"
    hint = " (give their id)" if matching else " (see touchpoint reps list)"
    typer.echo(f"touchpoint: {problem} {wanted!r}{hint}", err=True)
    raise typer.Exit(2)


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
