"""The `touchpoint` command: run the bot, talk to it in the terminal, route a line."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from typing import Annotated

import typer
from telegram.error import InvalidToken

from bot.bootstrap import ChannelsFactory, build_channels, open_app
from bot.cli import console, exports, maintenance
from bot.cli import records as cli_records
from bot.cli.common import settings_or_exit
from bot.cli.errors import one_line_errors
from bot.cli.report import report
from bot.cli.reps import reps_app
from bot.cursors import terminal_customer
from bot.leadership import Leadership
from bot.model import ChannelAdapter
from bot.settings import Settings, SettingsError
from channels.console import ConsoleChannel
from handlers.catalog import Catalog
from storage.db import run_upgrade
from storage.run_lock import AlreadyRunning, only_run
from storage.uow import Database

app = typer.Typer(
    help="Touchpoint: an omnichannel sales bot (Telegram, email, terminal).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
cli_records.register(app)
exports.register()
app.command()(report)
app.command()(console.web)
console.register(reps_app)
maintenance.register(db_app)


@app.command()
def run() -> None:
    """Serve every configured channel (the terminal when no account is configured) and the
    sales console on WEB_LISTEN.

    One `run` per SQLite file (shells and commands may share it); several need PostgreSQL."""
    settings = settings_or_exit()
    try:
        with only_run(settings.database_url.get_secret_value()):
            _serve_until_stopped(
                settings,
                lambda database, leadership: build_channels(settings, database, leadership),
                send_webhooks=True,
                with_console=True,
            )
    except AlreadyRunning as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(1) from None
    except SettingsError as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(2) from None
    except InvalidToken:
        # Its message quotes the token: say what is wrong without repeating it.
        typer.echo(
            "touchpoint: setting TELEGRAM_BOT_TOKEN is invalid: Telegram rejects it", err=True
        )
        raise typer.Exit(2) from None


@app.command()
def shell(
    as_name: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Talk as this customer (the same contact every time); without it, as the "
            "terminal customer `touchpoint run` talks as.",
        ),
    ] = None,
) -> None:
    """Talk to the bot in the terminal as a customer."""
    settings = settings_or_exit()
    name = (as_name or "").strip()

    async def terminal(database: Database, _: Leadership) -> list[ChannelAdapter]:
        session = name.lower() if name else await terminal_customer(database)
        return [ConsoleChannel(session, display_name=name)]

    _serve_until_stopped(settings, terminal)


def _serve_until_stopped(
    settings: Settings,
    make_channels: ChannelsFactory,
    *,
    send_webhooks: bool = False,
    with_console: bool = False,
) -> None:
    try:
        asyncio.run(_serve(settings, make_channels, send_webhooks, with_console))
    except KeyboardInterrupt:  # Ctrl-C while starting, before the app handles the signal
        typer.echo("", err=True)
        raise typer.Exit(130) from None


async def _serve(
    settings: Settings, make_channels: ChannelsFactory, send_webhooks: bool, with_console: bool
) -> None:
    async with open_app(settings, make_channels, send_webhooks=send_webhooks) as application:
        faces = console.console_faces(settings, application) if with_console else []
        _freeze_what_was_built()
        await application.serve(faces=faces)


def _freeze_what_was_built() -> None:
    """Keep the garbage collector out of what lives as long as the process.

    The catalog, the word lists' caches, the imported libraries: about 170,000 objects, which
    a full collection walks every time it runs, holding the interpreter for 50–100 ms while no
    turn, send or webhook answer can go on. Frozen once built, a full collection walks only
    what was made since (turns, replies), in a fraction of a millisecond."""
    gc.collect()
    gc.freeze()


@app.command()
def route(
    lang: Annotated[
        str | None, typer.Option(help="Force a language (en/ru) for plain lines.")
    ] = None,
) -> None:
    """Route lines from stdin (text, or JSON {"text", "lang"}) and print one JSON line each."""
    settings = settings_or_exit()
    matcher = Catalog.load(settings.catalog_dir).matcher
    for line in sys.stdin:
        text, line_lang = _route_input(line.rstrip("\r\n"), lang)
        match = matcher.match(text, line_lang)
        result = {
            "text": text,
            "lang": match.lang,
            "route": match.route,
            "intent": match.intent,
            "score": match.score,
            "matched": match.matched,
        }
        typer.echo(json.dumps(result, ensure_ascii=False))


def _route_input(line: str, lang: str | None) -> tuple[str, str | None]:
    if line.lstrip().startswith("{"):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            return line, lang
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            given = item.get("lang")
            return item["text"], given if isinstance(given, str) and given else lang
    return line, lang


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the bot also does this at start-up)."""
    settings = settings_or_exit()
    run_upgrade(settings.database_url.get_secret_value())
    typer.echo("database is up to date")


def main() -> None:
    with one_line_errors():
        app()
