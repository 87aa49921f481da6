from __future__ import annotations

import logging

import pytest

from bot.logs import RedactSecrets


def test_secrets_are_masked_in_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    caplog.handler.addFilter(RedactSecrets(["123456:SECRET-token", "hunter2-password"]))
    with caplog.at_level(logging.INFO):
        logger.info("POST https://api.example/bot%s/getMe", "123456:SECRET-token")
        logger.info("login with hunter2-password failed")
        logger.info("nothing secret here")
    assert caplog.messages == [
        "POST https://api.example/bot***/getMe",
        "login with *** failed",
        "nothing secret here",
    ]
