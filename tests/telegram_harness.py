"""Touchpoint with its Telegram channel, running in the test's process against `FakeTelegram`.

    async with FakeTelegram() as fake, TelegramBot(database, fake) as bot:
        fake.user_message(42, "/start")
        await fake.wait_sent(2)

The real adapter, dispatcher and relay run on a real database, on the real clock; only the
Bot API is the fake (over HTTP, through python-telegram-bot). Pacing is lifted unless asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from bot.bootstrap import build_services
from bot.cursors import DatabaseOffsets
from bot.dispatch import Dispatcher
from bot.relay import Relay, RelayPolicy
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.turn import Services
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from channels.telegram.polling import OffsetStore
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram


class TelegramBot:
    def __init__(
        self,
        database: Database,
        fake: FakeTelegram,
        *,
        services: Services | None = None,
        max_per_chat: float = 0.0,
        max_per_second: float = 0.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_listen: str = "127.0.0.1:0",
        offsets: OffsetStore | None = None,
    ) -> None:
        self.database = database
        self.fake = fake
        config = TelegramConfig(
            token=fake.token,
            api_url=fake.api_url,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_listen=webhook_listen,
            poll_timeout=1,
            max_per_chat=max_per_chat,
            max_per_second=max_per_second,
            conflict_wait=0.2,
        )
        self.channel = TelegramChannel(config, offsets or DatabaseOffsets(database, "offset:test"))
        self.relay = Relay(
            database, {"telegram": self.channel}, policy=RelayPolicy(poll_seconds=0.05)
        )
        services = services or build_services(Settings(_env_file=None, timezone="UTC"))
        self.dispatcher = Dispatcher(database, services, on_commit=self.relay.wake)
        self.scheduler = Scheduler(database, self.dispatcher, poll_seconds=0.05)
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> TelegramBot:
        self._tasks = [
            asyncio.create_task(self.channel.run(self.dispatcher.accept), name="telegram"),
            asyncio.create_task(self.relay.run(), name="relay"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.relay.stop()
        for task in self._tasks:
            if task.get_name() != "relay":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.channel.close()

    def crashed(self) -> BaseException | None:
        """The exception a background loop died of, if any (tests assert there is none)."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None
