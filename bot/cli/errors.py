"""Errors a person can fix, said in one line with how to fix them, never as a traceback.

`main` runs every command inside `one_line_errors`: a wrong setting, a database that cannot be
reached, a catalog that cannot be read or a token Telegram rejects end the command with one
line on stderr and exit status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from telegram.error import InvalidToken

from bot.intents import CatalogError
from bot.redaction import redact
from bot.settings import SettingsError
from bot.texts import TextsError

UNREACHABLE = (OSError, socket.gaierror, OperationalError, InterfaceError, TimeoutError)


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except SettingsError as error:
        _stop(str(error))
    except InvalidToken:  # its message quotes the token: say what is wrong without it
        _stop("setting TELEGRAM_BOT_TOKEN is invalid: Telegram rejects it (check @BotFather)")
    except (CatalogError, TextsError, ValueError) as error:
        if not _catalog_error(error):
            raise
        _stop(f"the catalog cannot be used: {_first_line(error)}")
    except Exception as error:
        if not _database_error(error):
            raise
        _stop(
            f"the database cannot be reached: {_first_line(error)} "
            "(is it running? check DATABASE_URL)"
        )


def _catalog_error(error: Exception) -> bool:
    return isinstance(error, CatalogError | TextsError) or type(error).__name__ == "MoodError"


def _database_error(error: BaseException) -> bool:
    if isinstance(error, UNREACHABLE):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # asyncpg's own errors for a refused login or a missing database arrive unwrapped.
    return type(error).__module__.startswith("asyncpg")


def _first_line(error: BaseException) -> str:
    text = redact(str(error)).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _stop(message: str) -> None:
    typer.echo(f"touchpoint: {message}", err=True)
    sys.exit(2)
