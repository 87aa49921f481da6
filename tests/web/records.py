"""What tests of the console read back from the database, and a signed-in manager."""

from __future__ import annotations

from bot.records import TouchpointRow
from tests.web.console_client import ConsoleSite, Visitor


async def touchpoints(site: ConsoleSite, kind: str) -> list[TouchpointRow]:
    async with site.bot.database.transaction() as uow:
        return await uow.touchpoints.search(kind=kind)


async def manager(site: ConsoleSite, name: str = "Maria") -> tuple[int, Visitor]:
    """A manager (on Telegram), signed in: their id and their browser."""
    rep_id = await site.add_rep(name, role="manager", telegram="9001")
    return rep_id, await site.signed_in(rep_id)
