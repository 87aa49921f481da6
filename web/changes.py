"""A person's change from the console: a turn through the dispatcher (recorded on the channel
"console"), then back to the page it came from, saying whether it applied (Post/Redirect/Get)."""

from __future__ import annotations

from aiohttp import web

from bot.turn import OperatorChange
from web.console import console_of

CONSOLE_CHANNEL = "console"  # the channel of touchpoints a person's change at the console records


async def apply(
    request: web.Request, change: OperatorChange, back: str, done: tuple[str, str]
) -> web.HTTPSeeOther:
    """Run `change`; the redirect to `back` with `?done=` the first word when it applied, the
    second when it did not (somebody else was quicker, or it was no longer theirs)."""
    dispatcher = console_of(request).dispatcher
    applied = await dispatcher.operator_turn(change, channel=CONSOLE_CHANNEL)
    return web.HTTPSeeOther(f"{back}?done={done[0] if applied else done[1]}")
