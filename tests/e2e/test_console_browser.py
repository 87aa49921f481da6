"""A manager answers a Telegram customer from the console in Chromium, end to end: a real
`touchpoint run` serving the console beside its Telegram channel (on the fake Bot API), a
customer asking for a person, and the answer typed in the browser reaching the customer's chat.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.bot_process import BotProcess
from tests.browser.chromium import Shot, browser, docs_shot, screenshots, shot, watched_tab
from tests.e2e.test_console_run import with_console
from tests.e2e.test_handoff_restart import add_rep, all_sent, environment, touchpoint
from tests.fakes.telegram import FakeTelegram
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow
__all__ = ["browser", "docs_shot", "screenshots", "shot"]  # fixtures of this module

MIA, ANN = 4242, 1001
ANSWER = "Hello from the console"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def page(browser: Browser, port: int) -> AsyncIterator[Page]:
    async with watched_tab(browser, f"http://127.0.0.1:{port}") as tab:
        await tab.set_viewport_size({"width": 1280, "height": 800})  # the README's picture
        yield tab


async def test_a_manager_answers_a_telegram_customer_from_the_inbox(
    fake: FakeTelegram, page: Page, port: int, shot: Shot, docs_shot: Shot,
    database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    env = with_console(environment(fake, database_url), port)
    await add_rep(env, "Mia", MIA, role="manager")

    async with BotProcess(env, tmp_path / "bot.log") as bot:
        await bot.eventually(lambda: _listening(port), what="the console listening")
        fake.user_message(ANN, "/human", first_name="Ann")
        # The answer is in the conversation's log once its delivery is committed, just after
        # the Bot API took it: Ann writes on after that, as a person reading it would.
        await bot.eventually(lambda: fake.texts_to(ANN), what="the bot answering Ann")
        await bot.eventually(lambda: all_sent(database_url), what="the bot's answer recorded")
        fake.user_message(ANN, "Can someone call me about 40 standing desks?", first_name="Ann")

        await page.goto((await touchpoint(env, "reps", "login-link", "Mia")).strip())
        await page.get_by_role("button", name="Sign in as Mia").click()
        await page.get_by_role("link", name="Inbox").click()
        await page.get_by_role("link", name="Ann").first.click()
        await page.get_by_role("button", name="Take this conversation").click()
        await expect(page.get_by_text("40 standing desks")).to_be_visible()
        await page.get_by_label("Your answer to the customer").fill(ANSWER)
        await page.get_by_role("button", name="Send").click()
        await expect(page.get_by_role("status")).to_contain_text("on its way")

        await bot.eventually(lambda: ANSWER in fake.texts_to(ANN), what="the answer in Telegram")
        await page.reload()
        await expect(page.get_by_text(ANSWER)).to_be_visible()
        await shot("handoff")
        await page.evaluate("window.scrollBy(0, 160)")  # from the note to the answer in sight
        await docs_shot("handoff")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
