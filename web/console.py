"""What every page of the console needs: the database, the dispatcher for changes, and the
settings that shape the pages (time zone, the console's own address, sign-in lifetimes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dispatch import Dispatcher
from bot.model import utc_now
from bot.settings import Settings
from bot.turn import Services
from storage.uow import Database, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    base_url: str  # links and redirects are built from it, never from a request's Host
    zone: ZoneInfo
    session_for: timedelta
    link_for: timedelta
    followup_after: timedelta
    company_name: str

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleConfig:
        return cls(
            base_url=settings.web_url,
            zone=settings.zone,
            session_for=timedelta(hours=settings.web_session_hours),
            link_for=timedelta(minutes=settings.web_login_minutes),
            followup_after=timedelta(hours=settings.followup_after_hours),
            company_name=settings.company_name,
        )


@dataclass(slots=True)
class Console:
    config: ConsoleConfig
    database: Database
    dispatcher: Dispatcher
    services: Services
    clock: Callable[[], datetime] = utc_now

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """`work` in a transaction that changes nothing (beside the bot's writes, not queued
        behind them)."""
        return await self.database.read(work)

    async def write(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """`work` in a committed transaction (the console's own rows: sign-in state)."""

        async def committed(uow: UnitOfWork) -> T:
            value = await work(uow)
            await uow.commit()
            return value

        return await self.database.run(committed)


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]
