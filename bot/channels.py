"""Which channels `touchpoint run` serves, decided from the settings."""

from __future__ import annotations

import secrets

from bot.model import ChannelAdapter
from bot.settings import Settings, SettingsError
from channels.console import ConsoleChannel


def build_channels(settings: Settings) -> list[ChannelAdapter]:
    """The configured channels; the terminal when no account is configured at all."""
    if settings.telegram_configured:
        raise SettingsError(
            "setting TELEGRAM_BOT_TOKEN is set, but this build has no Telegram channel yet; "
            "unset it to use the terminal"
        )
    if settings.email_configured:
        raise SettingsError(
            "settings IMAP_HOST/SMTP_HOST are set, but this build has no email channel yet; "
            "unset them to use the terminal"
        )
    return [ConsoleChannel(f"guest-{secrets.token_hex(3)}")]
