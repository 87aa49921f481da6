"""Serving the console on WEB_LISTEN, beside the bot (`touchpoint run`) or alone
(`touchpoint web`)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from web.app import make_app
from web.console import Console

log = logging.getLogger(__name__)


async def serve(console: Console, host: str, port: int) -> None:
    """Serve until cancelled. A console that cannot listen (the port is taken) is logged and
    not served: the bot's channels go on."""
    runner = web.AppRunner(make_app(console), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            log.error("the console is not served: cannot listen on %s:%s (%s)", host, port, error)
            await asyncio.Event().wait()
        log.info("the console is served on %s", console.config.base_url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
