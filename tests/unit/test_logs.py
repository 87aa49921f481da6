"""Secrets never reach a log: in messages, arguments and tracebacks alike."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot import redaction
from bot.logs import FORMAT, secret_values
from bot.settings import Settings

TOKEN = "123456:SECRET-token"


@pytest.fixture
def secrets() -> Iterator[None]:
    redaction.register([TOKEN, "hunter2-password"])
    yield
    redaction.forget_all()


def logged(*records: tuple[str, tuple[object, ...]], failing: Exception | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(redaction.RedactingFormatter(FORMAT))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    try:
        for message, args in records:
            logger.warning(message, *args)
        if failing is not None:
            try:
                raise failing
            except Exception:
                logger.exception("sending failed")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secrets_are_masked_in_messages_and_arguments(secrets: None) -> None:
    text = logged(
        ("POST https://api.example/bot%s/getMe", (TOKEN,)),
        ("login with hunter2-password failed", ()),
        ("nothing secret here", ()),
    )
    assert TOKEN not in text and "hunter2-password" not in text
    assert "POST https://api.example/bot***/getMe" in text
    assert "login with *** failed" in text
    assert "nothing secret here" in text


def test_a_secret_quoted_by_an_exception_is_masked_in_the_traceback(secrets: None) -> None:
    # python-telegram-bot's InvalidToken quotes the token it was given.
    text = logged(failing=RuntimeError(f"The token `{TOKEN}` was rejected by the server."))
    assert "Traceback" in text
    assert TOKEN not in text
    assert "The token `***` was rejected" in text


def test_the_secrets_of_the_settings_include_the_database_password_and_the_token_half() -> None:
    settings = Settings(
        _env_file=None,
        database_url=SecretStr("postgresql+asyncpg://bot:pa55-word@127.0.0.1/touchpoint"),
        telegram_bot_token=SecretStr(TOKEN),
    )
    assert set(secret_values(settings)) == {TOKEN, "SECRET-token", "pa55-word"}
    assert "pa55-word" not in repr(settings)


def test_a_sign_in_link_quoted_in_a_log_line_is_masked(secrets: None) -> None:
    """A debug line of an SDK may quote the text of a message to a rep, link and all."""
    link = "https://console.example/login/Xq3_-9aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"
    text = logged(("Calling sendMessage with text %r", (f"Your sign-in link: {link}",)))
    assert "Xq3_-9aBcDeFgHiJkLmNoPqRsTuVwXyZ012345" not in text
    assert "https://console.example/login/***" in text
    assert "/login" in logged(("GET /login 200", ()))  # the page itself is no secret
