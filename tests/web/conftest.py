"""The console over the test database of each engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness import BotHarness
from tests.web.console_client import ConsoleSite, serve_console


@pytest.fixture
async def site(bot: BotHarness) -> AsyncIterator[ConsoleSite]:
    served = await serve_console(bot)
    yield served
    await served.close()
