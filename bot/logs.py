"""Logging set-up: readable lines, and no secret ever written to a log.

The HTTP client logs every request URL, and the Bot API puts the bot token in the URL; its
request lines are kept out, and the formatter masks every configured secret in whatever is
logged, tracebacks included (`bot/redaction.py`).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url

from bot import redaction
from bot.settings import Settings

CHATTY = ("httpx", "httpcore", "aiohttp.access", "alembic", "pymorphy3")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    redaction.register(secret_values(settings))
    logging.basicConfig(level=settings.log_level, format=FORMAT)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    for handler in logging.getLogger().handlers:
        handler.setFormatter(redaction.RedactingFormatter(FORMAT))


def secret_values(settings: Settings) -> list[str]:
    secrets = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.imap_password,
        settings.smtp_password,
    ]
    values = [secret.get_secret_value() for secret in secrets if secret is not None]
    token = settings.telegram_bot_token
    if token is not None:  # the part after the bot id is the secret half of the token
        values.append(token.get_secret_value().partition(":")[2])
    password = make_url(settings.database_url.get_secret_value()).password
    return values + ([str(password)] if password else [])
