"""The address of a one-time sign-in link, built from the console's configured address (the
bot builds the same when a rep asks for one: handlers/console_links.py)."""

from __future__ import annotations

from handlers.console_links import login_url

__all__ = ["login_url"]
