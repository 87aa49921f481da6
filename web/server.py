"""Serving the console on WEB_LISTEN, beside the bot (`touchpoint run`) or alone
(`touchpoint web`)."""

from __future__ import annotations

from bot.listener import listen
from web.app import make_app
from web.console import Console


async def serve(console: Console, host: str, port: int) -> None:
    """Serve until cancelled; a console that cannot listen is logged, and the bot goes on."""
    await listen(make_app(console), host, port, name="the console")
