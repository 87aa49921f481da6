"""The composition root: builds the database, the core and the channels from the settings.

Nothing is built at import time; `App.start` and `build_*` do it when a command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from bot.dispatch import Dispatcher
from bot.intents import IntentMatcher
from bot.model import ChannelAdapter
from bot.relay import Relay, RelayPolicy
from bot.rep_hours import RepHours
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.turn import FlowConfig, Services
from handlers.mood import AngerRules
from handlers.texts import Texts
from storage.uow import Database

log = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0


def build_services(settings: Settings) -> Services:
    catalog = settings.catalog_dir
    matcher = (
        IntentMatcher.from_file(catalog / "intents.toml") if catalog else IntentMatcher.default()
    )
    config = FlowConfig(
        company_name=settings.company_name,
        default_language=settings.default_language,
        followup_after=timedelta(hours=settings.followup_after_hours),
        misses_before_handoff=settings.misses_before_handoff,
        hot_lead_score=settings.hot_lead_score,
        message_id_domain=_domain_of(settings.email_from) or "touchpoint.invalid",
        replies_per_conversation=settings.email_max_replies_per_conversation,
        replies_per_address=settings.email_max_replies_per_address,
        claim_within=timedelta(seconds=settings.handoff_claim_seconds),
        handoff_idle=timedelta(minutes=settings.handoff_idle_minutes),
        same_rep_within=timedelta(hours=settings.handoff_same_rep_hours),
        rep_hours=(
            RepHours.parse(settings.rep_hours, settings.rep_days, settings.rep_timezone)
            if settings.rep_hours
            else None
        ),
    )
    return Services(
        texts=Texts.load(catalog), matcher=matcher, config=config, anger=AngerRules.load(catalog)
    )


def _domain_of(address: str | None) -> str:
    return parseaddr(address or "")[1].rpartition("@")[2].lower()


@dataclass(slots=True)
class App:
    database: Database
    dispatcher: Dispatcher
    relay: Relay
    scheduler: Scheduler
    adapters: tuple[ChannelAdapter, ...]

    async def serve(self) -> None:
        """Run the channels, the relay and the scheduler until a channel ends or a signal comes.

        A channel that ends (the terminal at end of input) ends the app. SIGTERM and SIGINT stop
        it gracefully: channels stop receiving (they acknowledge only committed turns, so
        cancelling them loses nothing), the relay settles the reply in hand and delivers what
        is due, then the process exits.
        """
        stop = asyncio.Event()
        _on_signals(stop.set)
        relay = asyncio.create_task(self.relay.run(), name="relay")
        background = [relay, asyncio.create_task(self.scheduler.run(), name="scheduler")]
        channels = [
            asyncio.create_task(a.run(self.dispatcher.accept), name=a.name) for a in self.adapters
        ]
        stopper = asyncio.create_task(_wait_for(stop), name="signals")
        try:
            await _first_to_finish([*channels, stopper], background)
        finally:
            await _cancel([*channels, stopper])
            await self._drain(relay)
            await _cancel(background)
            for adapter in self.adapters:
                await adapter.close()

    async def _drain(self, relay: asyncio.Task[None]) -> None:
        self.relay.stop()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(relay, DRAIN_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.deliver_due(), DRAIN_SECONDS)


ChannelsFactory = Callable[[Database], Sequence[ChannelAdapter]]


@asynccontextmanager
async def open_app(settings: Settings, make_channels: ChannelsFactory) -> AsyncIterator[App]:
    database = Database.from_url(settings.database_url)
    try:
        await database.upgrade()
        adapters = make_channels(database)
        relay = Relay(
            database,
            {adapter.name: adapter for adapter in adapters},
            policy=RelayPolicy(
                lease=timedelta(seconds=settings.relay_lease_seconds),
                max_attempts=settings.relay_max_attempts,
                poll_seconds=settings.relay_poll_seconds,
                concurrency=settings.relay_concurrency,
            ),
        )
        dispatcher = Dispatcher(database, build_services(settings), on_commit=relay.wake)
        scheduler = Scheduler(database, dispatcher)
        yield App(database, dispatcher, relay, scheduler, tuple(adapters))
    finally:
        await database.dispose()


async def _first_to_finish(
    watched: list[asyncio.Task[None]], background: list[asyncio.Task[None]]
) -> None:
    done, _ = await asyncio.wait([*watched, *background], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()  # a crashed loop surfaces here instead of dying silently


async def _wait_for(event: asyncio.Event) -> None:
    await event.wait()


def _on_signals(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, callback)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
