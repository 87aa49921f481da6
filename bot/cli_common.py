"""What every CLI command shares: settings with a one-line error, and a transaction to work in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from storage.uow import Database, UnitOfWork

T = TypeVar("T")


def settings_or_exit() -> Settings:
    """The settings, or a one-line error naming the bad setting and exit code 2."""
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings)
    return settings


def with_store(work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database (schema upgraded first)."""
    settings = settings_or_exit()

    async def _run() -> T:
        database = Database.from_url(settings.database_url)
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                value = await work(uow)
                await uow.commit()
                return value
        finally:
            await database.dispose()

    return asyncio.run(_run())


def not_found(what: str) -> typer.Exit:
    typer.echo(f"touchpoint: {what} not found", err=True)
    return typer.Exit(1)
