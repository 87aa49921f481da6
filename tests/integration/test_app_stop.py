"""Stopping the app: a signal stops it after the reply in hand is settled; a signal during that
drain stops it at once, the reply in hand staying leased for the next start."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field

from bot.bootstrap import App
from bot.model import Accept, Capabilities, OutboundMessage, SendReceipt
from tests.harness import BotHarness
from tests.integration.helpers import outbox_rows


@dataclass
class StuckChannel:
    """A channel whose sends never end (a server that stopped answering)."""

    name: str = "console"
    capabilities: Capabilities = field(default_factory=Capabilities)
    sending: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, accept: Accept) -> None:
        await asyncio.Event().wait()  # receives until cancelled

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self.sending.set()
        await asyncio.Event().wait()
        raise AssertionError("never")

    async def close(self) -> None:
        return None


async def test_a_signal_during_the_drain_stops_at_once_leaving_the_reply_leased(
    bot: BotHarness,
) -> None:
    channel = StuckChannel()
    bot.channels["console"] = channel  # type: ignore[assignment]
    bot.restart()
    await bot.dispatcher.accept(bot.customer("alice").message("thanks"))
    app = App(bot.database, bot.dispatcher, bot.relay, bot.scheduler, (channel,))

    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(channel.sending.wait(), 30)
    os.kill(os.getpid(), signal.SIGTERM)  # stop: the drain waits for the stuck send
    await asyncio.sleep(0.2)
    assert not serving.done()

    os.kill(os.getpid(), signal.SIGTERM)  # again: stop now
    await asyncio.wait_for(serving, 10)
    [row] = await outbox_rows(bot.database)
    assert row.status == "sending"  # still leased: the next start sends it (reclaim)
