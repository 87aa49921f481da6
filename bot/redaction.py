"""No secret in any log, stored error text or printed output.

The configured secrets (the bot token, the webhook secret, mail passwords, the database
password) are registered once at start-up, and reps' secret reply addresses and one-time
sign-in links are recognised by their shape; `redact` masks every occurrence in a text. It is
applied where text leaves the process or is kept: the log formatter (after exceptions and
stack traces are formatted, which is where a token quoted by an SDK's error turns up), error
texts stored on outbox rows, dead letters and touchpoints, and everything the CLI prints.

A secret shorter than `MIN_LENGTH` is not registered: masking "1" everywhere would hide more
than it protects.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
REPLY_TOKEN = re.compile(r"\+r[0-9a-f]{8,64}@", re.IGNORECASE)
# A one-time sign-in link to the console (its secret is URL-safe base64), e.g. in the text of
# a message to a rep that an SDK's debug line or a send error quotes.
SIGN_IN_LINK = re.compile(r"/login/[A-Za-z0-9_-]{16,}")
MIN_LENGTH = 4

_secrets: list[str] = []


def register(values: Iterable[str]) -> None:
    """Add secrets to mask (longest first, so a secret containing another is masked whole)."""
    known = set(_secrets) | {value for value in values if len(value) >= MIN_LENGTH}
    _secrets[:] = sorted(known, key=len, reverse=True)


def forget_all() -> None:
    """For tests: start again with no secret registered."""
    _secrets.clear()


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "+r" in text:  # a rep's secret reply address (sales+r<token>@...)
        text = REPLY_TOKEN.sub(f"+r{MASK}@", text)
    if "/login/" in text:
        text = SIGN_IN_LINK.sub(f"/login/{MASK}", text)
    return text


def without_sign_in_links(text: str) -> str:
    """`text` as it is kept once sent: a one-time sign-in link is good for nothing to whoever
    reads the database afterwards (the link itself is kept only as a hash)."""
    return SIGN_IN_LINK.sub(f"/login/{MASK}", text) if "/login/" in text else text


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the whole formatted record: the message, an exception's traceback
    (formatted after filters run, so a filter alone misses it), and a stack."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
