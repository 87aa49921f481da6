"""Which channels `touchpoint run` serves, decided from the settings."""

from __future__ import annotations

import secrets

from bot.model import ChannelAdapter, utc_now
from bot.settings import Settings, SettingsError
from channels.console import ConsoleChannel
from channels.telegram.adapter import TelegramChannel, TelegramConfig
from storage.uow import Database, UnitOfWork


def build_channels(settings: Settings, database: Database) -> list[ChannelAdapter]:
    """The configured channels; the terminal when no account is configured at all."""
    if settings.email_configured:
        raise SettingsError(
            "settings IMAP_HOST/SMTP_HOST are set, but this build has no email channel yet; "
            "unset them to use the other channels"
        )
    if settings.telegram_configured:
        return [telegram_channel(settings, database)]
    return [ConsoleChannel(f"guest-{secrets.token_hex(3)}")]


def telegram_channel(settings: Settings, database: Database) -> TelegramChannel:
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    secret = settings.telegram_webhook_secret
    config = TelegramConfig(
        token=token,
        api_url=settings.telegram_api_url,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else None,
        webhook_listen=settings.telegram_webhook_listen,
        poll_timeout=settings.telegram_poll_timeout,
        max_per_chat=settings.telegram_max_per_chat,
        max_per_second=settings.telegram_max_per_second,
    )
    # The bot's id (the token's first part) keys the offset: a new token starts afresh.
    return TelegramChannel(config, DatabaseOffsets(database, f"offset:{token.split(':')[0]}"))


class DatabaseOffsets:
    """The Telegram offset kept in `channel_cursors`, next to the turns it acknowledges."""

    def __init__(self, database: Database, key: str) -> None:
        self._database = database
        self._key = key

    async def load(self) -> int:
        value = await self._database.run(lambda uow: uow.cursors.get("telegram", self._key))
        return int(value) if value else 0

    async def save(self, offset: int) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.cursors.put("telegram", self._key, str(offset), utc_now())
            await uow.commit()

        await self._database.run(work)
