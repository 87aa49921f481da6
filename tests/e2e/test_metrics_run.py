"""`touchpoint run` serves /metrics and /healthz on METRICS_LISTEN, and writes JSON log lines
with LOG_FORMAT=json."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from pathlib import Path

import pytest
from aiohttp import ClientSession

from tests.bot_process import BotProcess
from tests.e2e.test_handoff_restart import environment
from tests.fakes.telegram import FakeTelegram
from tests.integration.test_metrics import sample
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

ANN = 1001


async def test_run_reports_its_turns_and_health(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(fake, database_url) | {
        "METRICS_LISTEN": f"127.0.0.1:{port}",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
    }
    async with BotProcess(env, tmp_path / "bot.log") as bot, ClientSession() as http:
        fake.user_message(ANN, "hello", first_name="Ann")
        await bot.eventually(lambda: fake.texts_to(ANN), what="the answer to Ann")

        async def scraped() -> str:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                return await response.text()

        sent = 'touchpoint_relay_sends_total{channel="telegram",outcome="delivered"}'
        text = await eventually(
            lambda: _when(sent, scraped()), what="the delivery counted", context=bot.log_tail
        )
        assert sample(text, "touchpoint_turns_total", channel="telegram", outcome="handled") == 1
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["database"] is True

    lines = [line for line in bot.log().splitlines() if line.startswith("{")]
    assert lines, bot.log_tail()
    parsed = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)
    assert fake.token.partition(":")[2] not in bot.log()


async def _when(wanted: str, scraped: Awaitable[str]) -> str:
    text = await scraped
    return text if wanted in text else ""
