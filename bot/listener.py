"""Serving a small aiohttp application beside the bot (the console, the metrics) until the
app stops."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger(__name__)


async def listen(app: web.Application, host: str, port: int, *, name: str) -> None:
    """Serve `app` until cancelled. One that cannot listen (the port is taken) is logged and
    serves nothing, and never ends: the bot's channels beside it go on."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
            log.info("%s is served on %s:%s", name, host, port)
        except OSError as error:
            log.error("%s is not served: cannot listen on %s:%s (%s)", name, host, port, error)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
