"""The Telegram channel end to end in one process: the real adapter, dispatcher and relay,
python-telegram-bot talking HTTP to the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.telegram_harness import TelegramBot

ANN = 1001
GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def buttons(fake: FakeTelegram, index: int = -1) -> list[str]:
    markup = fake.sent[index].reply_markup or {}
    rows = markup.get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


async def test_start_greets_with_the_menu_as_buttons(database: Database, fake: FakeTelegram) -> None:
    async with TelegramBot(database, fake):
        fake.user_message(ANN, "/start")
        await fake.wait_sent(2)
    assert fake.texts_to(ANN) == [GREETING, "What would you like to do?"]
    assert buttons(fake) == ["menu:lead", "menu:service", "menu:status", "menu:human"]
