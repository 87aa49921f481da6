"""Logging set-up: readable lines, and no secret ever written to a log.

The HTTP client logs every request URL, and the Bot API puts the bot token in the URL; its
request lines are kept out, and the formatter masks every configured secret in whatever is
logged, tracebacks included (`bot/redaction.py`).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from bot import redaction
from bot.settings import Settings

CHATTY = ("httpx", "httpcore", "aiohttp.access", "alembic", "pymorphy3")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# What the line being logged is about (the channel, its message and conversation), set by the
# dispatcher around a turn and shown by the JSON format.
ABOUT: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "about", default=None
)


@contextmanager
def about(**fields: object) -> Iterator[None]:
    """Log lines written inside are about `fields` (added to what is already known)."""
    token = ABOUT.set({**(ABOUT.get() or {}), **fields})
    try:
        yield
    finally:
        ABOUT.reset(token)


class JsonLines(redaction.RedactingFormatter):
    """One JSON object per line: time, level, logger, message (and its traceback), and what the
    line is about; secrets masked like every other line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(ABOUT.get() or {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redaction.redact(json.dumps(line, ensure_ascii=False, default=str))


def configure_logging(settings: Settings) -> None:
    redaction.register(secret_values(settings))
    logging.basicConfig(level=settings.log_level, format=FORMAT)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    formatter = (
        JsonLines() if settings.log_format == "json" else redaction.RedactingFormatter(FORMAT)
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


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
