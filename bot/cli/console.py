"""`touchpoint web` and the console beside `touchpoint run`; `reps login-link` and
`reps logout`, the sign-in commands of the console."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import typer

from bot.bootstrap import App, build_dispatcher, build_services, open_database
from bot.cli.common import fail, person, settings_or_exit, writing
from bot.model import utc_now
from bot.settings import Settings
from handlers.console_links import login_url

# The console (its routes, templates, charts: pygal, Jinja) is imported by the commands that
# serve it, not with the CLI: a `touchpoint run` with WEB_LISTEN off never holds it in memory.


def console_faces(settings: Settings, app: App) -> list[Coroutine[Any, Any, None]]:
    """The console served beside the bot, unless WEB_LISTEN is off."""
    address = settings.web_address
    if address is None:
        return []
    from web.console import Console, ConsoleConfig
    from web.server import serve

    config = ConsoleConfig.from_settings(settings)
    console = Console(config, app.database, app.dispatcher, app.dispatcher.services)
    return [serve(console, *address)]


def web() -> None:
    """Serve only the sales console on WEB_LISTEN (the bot's channels run in `touchpoint run`)."""
    settings = settings_or_exit()
    address = settings.web_address
    if address is None:
        raise fail("WEB_LISTEN is off: set it to HOST:PORT, e.g. 127.0.0.1:8088", 2)
    from web.console import Console, ConsoleConfig
    from web.server import serve

    async def _serve() -> None:
        async with open_database(settings, migrate=True) as database:
            console = Console(
                ConsoleConfig.from_settings(settings),
                database,
                build_dispatcher(settings, database),
                build_services(settings),
            )
            typer.echo(f"the console is at {settings.web_url}/", err=True)
            await serve(console, *address)

    try:
        asyncio.run(_serve())
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def login_link(name: str) -> None:
    """Print a one-time sign-in link to the console for a rep or manager (good for
    WEB_LOGIN_MINUTES, once; opening it shows a button that signs in)."""
    settings = settings_or_exit()
    rep = person(name, "NAME")
    from web.console import ConsoleConfig

    config = ConsoleConfig.from_settings(settings)
    secret = writing(lambda uow: uow.console_access.new_link(rep.id, utc_now(), config.link_for))
    typer.echo(login_url(config.base_url, secret))


def register(reps_app: typer.Typer) -> None:
    reps_app.command("login-link")(login_link)
    reps_app.command("logout")(logout)


def logout(name: str) -> None:
    """Sign a rep or manager out of the console everywhere (their unused links die too)."""
    rep = person(name, "NAME")
    ended = writing(lambda uow: uow.console_access.end_sessions_of(rep.id, utc_now()))
    typer.echo(f"{rep.name} is signed out ({ended} session{'s' if ended != 1 else ''} ended)")
