"""Logging set-up: readable lines, and no secret ever written to a log.

The HTTP client logs every request URL, and the Bot API puts the bot token in the URL; its
request lines are kept out, and a filter masks every configured secret in whatever is logged.
"""

from __future__ import annotations

import logging

from bot.settings import Settings

MASK = "***"
CHATTY = ("httpx", "httpcore", "aiohttp.access", "alembic")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, MASK)
            record.msg, record.args = message, None
        return True


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    redact = RedactSecrets(secret_values(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def secret_values(settings: Settings) -> list[str]:
    secrets = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.imap_password,
        settings.smtp_password,
    ]
    return [secret.get_secret_value() for secret in secrets if secret is not None]
