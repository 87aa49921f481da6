"""`touchpoint run` serves the sales console beside the bot on WEB_LISTEN; `touchpoint web`
serves it alone; `reps login-link` and `reps logout` sign a person in and out from the terminal.

The console is a face, not a channel: a port that is taken stops only the console, never the
bot's channels.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from tests.bot_process import PROJECT, BotProcess
from tests.e2e.test_handoff_restart import add_rep, environment, touchpoint
from tests.fakes.telegram import FakeTelegram
from tests.waiting import eventually
from tests.web.console_client import free_port

pytestmark = pytest.mark.slow

OLGA, ANN = 4242, 1001


@pytest.fixture
async def browser() -> AsyncIterator[ClientSession]:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        yield session


def with_console(env: dict[str, str], port: int) -> dict[str, str]:
    return env | {"WEB_LISTEN": f"127.0.0.1:{port}", "WEB_BASE_URL": f"http://127.0.0.1:{port}"}


async def page(browser: ClientSession, url: str) -> tuple[int, str]:
    async with browser.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_run_serves_the_console_and_the_cli_signs_people_in_and_out(
    fake: FakeTelegram, browser: ClientSession, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = with_console(environment(fake, database_url), port)
    await add_rep(env, "Olga", OLGA, role="manager")

    async with BotProcess(env, tmp_path / "bot.log") as bot:
        link = (await touchpoint(env, "reps", "login-link", "Olga")).strip()
        assert link.startswith(f"http://127.0.0.1:{port}/login/"), link
        await bot.eventually(lambda: _answers(port), what="the console listening")

        status, text = await page(browser, link)
        assert status == 200 and "Sign in as Olga" in text
        async with browser.post(link) as signed_in:
            assert "Signed in as Olga" in await signed_in.text()
        assert (await page(browser, f"http://127.0.0.1:{port}/"))[0] == 200

        fake.user_message(ANN, "hello", first_name="Ann")  # the bot's channel goes on meanwhile
        await bot.eventually(lambda: fake.texts_to(ANN), what="the bot answering Ann")

        said = await touchpoint(env, "reps", "logout", "Olga")
        assert said == "Olga is signed out (1 session ended)\n"
        assert (await page(browser, f"http://127.0.0.1:{port}/"))[0] == 303


async def test_a_taken_console_port_does_not_stop_the_bot(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = with_console(environment(fake, database_url), taken.getsockname()[1])
        async with BotProcess(env, tmp_path / "bot.log") as bot:
            fake.user_message(ANN, "hello", first_name="Ann")
            await bot.eventually(lambda: fake.texts_to(ANN), what="the bot answering Ann")
            assert "the console is not served: cannot listen" in bot.log()


async def test_web_serves_only_the_console(
    fake: FakeTelegram, browser: ClientSession, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = with_console(environment(fake, database_url), port)
    await add_rep(env, "Olga", OLGA, role="manager")
    log = (tmp_path / "web.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "web", cwd=PROJECT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        await eventually(lambda: _answers(port), what="touchpoint web listening")
        link = (await touchpoint(env, "reps", "login-link", "olga")).strip()
        async with browser.post(link) as signed_in:
            assert "Signed in as Olga" in await signed_in.text()
        fake.user_message(ANN, "hello", first_name="Ann")
        await asyncio.sleep(2)
        assert fake.texts_to(ANN) == []  # no channel runs in `touchpoint web`
    finally:
        process.terminate()
        await process.wait()
        log.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
