"""/metrics and /healthz: what an operator watches, counted as it happens and read from the
database at each scrape."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import ClientSession, web

from bot import redaction
from bot.leadership import Leadership
from bot.logs import JsonLines, about
from bot.metrics_server import metrics_app
from storage.uow import Database
from tests.harness import BotHarness
from tests.web.console_client import free_port


async def served(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def scrape(bot: BotHarness) -> AsyncIterator[str]:
    runner, url = await served(metrics_app(bot.metrics, bot.database, bot.clock))
    yield url
    await runner.cleanup()


async def text_of(url: str) -> tuple[int, str]:
    async with ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def sample(exposition: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, exposition, re.MULTILINE)
    assert found, f"{name} {labels} not in:\n{exposition}"
    return float(found[1])


async def test_turns_sends_and_the_backlog_are_reported(bot: BotHarness, scrape: str) -> None:
    alice = bot.customer("alice")
    await bot.dispatcher.accept(alice.message("hello"))  # accepted, not delivered yet
    await bot.dispatcher.accept(alice.message("I need a quote for 20 chairs"))

    _, before = await text_of(f"{scrape}/metrics")
    assert sample(before, "touchpoint_turns_total", channel="console", outcome="handled") == 2
    assert sample(before, "touchpoint_turn_seconds_count", channel="console") == 2
    unsent = sample(before, "touchpoint_outbox_unsent")
    assert unsent >= 2  # the greeting and the answer wait for the relay
    bot.clock.advance(seconds=30)
    _, later = await text_of(f"{scrape}/metrics")
    assert sample(later, "touchpoint_outbox_oldest_unsent_seconds") >= 30

    delivered = await bot.deliver()
    _, after = await text_of(f"{scrape}/metrics")
    assert delivered == unsent
    assert (
        sample(after, "touchpoint_relay_sends_total", channel="console", outcome="delivered")
        == delivered
    )
    assert sample(after, "touchpoint_outbox_unsent") == 0
    assert sample(after, "touchpoint_outbox_oldest_unsent_seconds") == 0
    assert sample(after, "touchpoint_dead_letters") == 0


async def test_health_says_whether_the_database_answers(bot: BotHarness, scrape: str) -> None:
    status, body = await text_of(f"{scrape}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok", "database": True})

    nowhere = Database.from_url(f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/none")
    runner, url = await served(metrics_app(bot.metrics, nowhere, bot.clock))
    try:
        status, body = await text_of(f"{url}/healthz")
    finally:
        await runner.cleanup()
        await nowhere.dispose()
    assert (status, json.loads(body)) == (503, {"status": "unavailable", "database": False})


async def test_health_and_metrics_say_which_leader_leases_this_instance_holds(
    bot: BotHarness,
) -> None:
    leadership = Leadership(
        bot.database, "alpha", timedelta(seconds=15), clock=bot.clock, on_change=bot.metrics.lease
    )
    poller, mailbox = leadership.lease("telegram-poller/123"), leadership.lease("imap/sales")
    assert await poller.take()
    other = Leadership(bot.database, "beta", timedelta(seconds=15), clock=bot.clock)
    assert await other.lease("imap/sales").take()
    assert not await mailbox.take()

    runner, url = await served(metrics_app(bot.metrics, bot.database, bot.clock, leadership.held))
    try:
        _, health = await text_of(f"{url}/healthz")
        _, exposition = await text_of(f"{url}/metrics")
    finally:
        await runner.cleanup()
    assert json.loads(health)["leases"] == {"telegram-poller/123": True, "imap/sales": False}
    assert sample(exposition, "touchpoint_leader", lease="telegram-poller/123") == 1
    assert sample(exposition, "touchpoint_leader", lease="imap/sales") == 0


def test_json_log_lines_say_what_they_are_about_and_hide_secrets() -> None:
    redaction.register(["s3cret-token"])
    record = logging.LogRecord(
        "bot.relay", logging.WARNING, __file__, 1, "sent with %s", ("s3cret-token",), None
    )
    with about(channel="telegram", message_id="42:7"), about(conversation_id=9):
        line = json.loads(JsonLines().format(record))
    assert line["message"] == "sent with ***"
    assert (line["level"], line["logger"]) == ("WARNING", "bot.relay")
    assert (line["channel"], line["message_id"], line["conversation_id"]) == ("telegram", "42:7", 9)
    outside = json.loads(JsonLines().format(record))
    assert "channel" not in outside
