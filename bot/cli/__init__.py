"""The `touchpoint` command, a face of the product like the web console: it builds what it
needs through the composition root (`bot/bootstrap.py`) and changes state only through the same
operations the bot uses."""

from bot.cli.app import app, main

__all__ = ["app", "main"]
