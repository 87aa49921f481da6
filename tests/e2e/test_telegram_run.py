"""`touchpoint run` as a real subprocess serving Telegram against the fake Bot API, on PostgreSQL
(what does not depend on the engine, on SQLite); then the CLI reads back what the bot stored.
Every test ends with SIGTERM, a clean exit, and a log that never shows the bot token."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.model import utc_now
from storage.repos.outbox import NewOutbound
from storage.tables import dead_letters, outbox, touchpoints
from storage.uow import Database
from tests.bot_process import BotProcess, bot_environment
from tests.fakes.telegram import FakeTelegram, SentMessage

pytestmark = pytest.mark.slow

WAIT = 30.0  # seconds: generous, for a loaded machine; nothing here measures time

GREETING_EN = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)
MENU_EN = "What would you like to do?"
GREETING_RU = (
    "Здравствуйте! Я помощник компании Touchpoint. Могу подготовить для вас предложение, "
    "помочь с текущим заказом или заявкой или связать вас с сотрудником."
)
MENU_RU = "Что вы хотели бы сделать?"
MENU_BUTTONS = ["menu:lead", "menu:service", "menu:status", "menu:human"]
LEAD_INTRO_EN = (
    "Great, I'll prepare this for our sales team. "
    "A few short questions (you can /cancel at any time)."
)
ASK_NEED_EN = (
    "What are you looking for? A product, a service, quantities — a sentence or two is enough."
)
ASK_NAME_EN = "What is your name?"
ASK_COMPANY_EN = "Which company are you with? (Skip if you are buying as a private person.)"
ASK_CONTACT_EN = "How can our sales rep reach you? Please send an email address or a phone number."
ASK_BUDGET_AND_DATE_EN = (
    'Do you have a budget and a date in mind? For example "about 5,000 euros, by May". (Optional.)'
)
CONTACT_NOT_OWN_EN = "Please share your own contact, or type your email address or phone number."
STALE_BUTTON_EN = "That button is no longer active."
NOBODY_EN = (  # no rep is registered in these runs
    "Nobody from our team is available right now, so I can't put you through to a person. "
    "If you like, write your message here and I'll pass it on to the team. "
    "Or /cancel to carry on with me."
)
PASSED_ON_EN = (
    "I've passed this on to our team: it's saved with your request #1001. "
    "They will see it as soon as someone is available. Anything else I can help with?"
)
CONTACT_KEYBOARD = {
    "keyboard": [[{"text": "Share my phone number", "request_contact": True}]],
    "one_time_keyboard": True,
    "resize_keyboard": True,
}


# --- the bot process, its database and the CLI


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For what does not depend on the engine: one run is enough."""
    return f"sqlite+aiosqlite:///{tmp_path / 'telegram.db'}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token="7654321:AAH-e2e_SecretPart-of-the-token") as server:
        yield server


def environment(database_url: str, fake: FakeTelegram, **settings: str) -> dict[str, str]:
    return bot_environment(
        database_url,
        **{
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.api_url,
            "TELEGRAM_POLL_TIMEOUT": "1",
            "TELEGRAM_MAX_PER_CHAT": "0",
            "TELEGRAM_MAX_PER_SECOND": "0",
            **settings,
        },
    )


@asynccontextmanager
async def touchpoint_run(
    database_url: str, fake: FakeTelegram, tmp_path: Path, **settings: str
) -> AsyncIterator[BotProcess]:
    """`touchpoint run`; on leaving, SIGTERM: it exits 0, and its log never shows the token."""
    env = environment(database_url, fake, **settings)
    async with BotProcess(env, tmp_path / "bot.log") as bot:
        yield bot
        assert await bot.stop() == 0, bot.log()
        log = bot.log()
        assert "Telegram: serving @TouchpointTestBot" in log
        assert fake.token not in log
        assert fake.token.split(":")[1] not in log


async def cli_json(database_url: str, fake: FakeTelegram, *args: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "--json",
        env=environment(database_url, fake),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


# --- a customer in a private chat, as a transcript


@dataclass
class Customer:
    """One private chat: what the customer does, and what the bot has said to them so far."""

    fake: FakeTelegram
    chat_id: int
    first_name: str = "Ann"
    language_code: str = "en"
    heard: int = 0
    pressed: list[str] = field(default_factory=list)

    def says(self, text: str) -> dict[str, Any]:
        return self.fake.user_message(
            self.chat_id, text, first_name=self.first_name, language_code=self.language_code
        )

    def presses(self, data: str, *, on: SentMessage | None = None) -> None:
        """A button under the bot's last message (or `on`)."""
        message = on or self.last
        update = self.fake.user_callback(self.chat_id, data, message_id=message.message_id)
        self.pressed.append(update["callback_query"]["id"])

    def shares_contact(self, phone: str, *, owner: int | None) -> None:
        self.fake.user_contact(
            self.chat_id, phone, contact_user_id=owner, first_name=self.first_name
        )

    async def hears(self, count: int) -> list[str]:
        """The bot's next `count` messages to this chat (waiting for them)."""
        wanted = self.heard + count
        await self.fake.wait_until(
            lambda: len(self._messages()) >= wanted,
            WAIT,
            what=f"{wanted} messages to {self.chat_id}",
        )
        new = self._messages()[self.heard : wanted]
        self.heard = wanted
        return [message.text for message in new]

    @property
    def last(self) -> SentMessage:
        return self._messages()[self.heard - 1]

    def buttons(self) -> list[str]:
        rows = (self.last.reply_markup or {}).get("inline_keyboard", [])
        return [button["callback_data"] for row in rows for button in row]

    def all_heard(self) -> list[str]:
        return [message.text for message in self._messages()]

    def unheard(self) -> list[str]:
        """What the bot said beyond what the test has checked (after a stop: nothing more)."""
        return self.all_heard()[self.heard :]

    def _messages(self) -> list[SentMessage]:
        return [
            m for m in self.fake.sent if m.chat_id == self.chat_id and m.method == "sendMessage"
        ]


async def until_taken(fake: FakeTelegram, update: dict[str, Any]) -> None:
    """Until the bot has acknowledged `update`, which it does only after committing it."""
    acknowledged = f"update {update['update_id']} acknowledged"
    await fake.wait_until(
        lambda: fake.confirmed_offset > update["update_id"], WAIT, what=acknowledged
    )


# --- the tests


async def test_a_lead_captured_in_english_through_buttons_and_text(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    ann = Customer(fake, 1001)
    async with touchpoint_run(database_url, fake, tmp_path):
        ann.says("/start")
        assert await ann.hears(2) == [GREETING_EN, MENU_EN]
        assert ann.buttons() == MENU_BUTTONS

        ann.presses("menu:lead")
        assert await ann.hears(2) == [LEAD_INTRO_EN, ASK_NEED_EN]
        ann.says("I need a quote for 25 ergonomic office chairs")
        assert await ann.hears(1) == [ASK_NAME_EN]
        assert ann.buttons() == ["lead:use_name"]
        assert ann.last.reply_markup == {
            "inline_keyboard": [[{"text": "I'm Ann", "callback_data": "lead:use_name"}]]
        }
        ann.presses("lead:use_name")
        assert await ann.hears(1) == [ASK_CONTACT_EN]
        assert ann.last.reply_markup == CONTACT_KEYBOARD

        ann.shares_contact("+44 7911 123456", owner=ann.chat_id)
        assert await ann.hears(1) == [ASK_COMPANY_EN]
        ann.presses("lead:skip")
        assert await ann.hears(1) == [ASK_BUDGET_AND_DATE_EN]
        ann.presses("lead:skip")
        assert await ann.hears(1) == [
            "Please check:\n"
            "Need: I need a quote for 25 ergonomic office chairs\n"
            "Name: Ann\n"
            "Phone: +447911123456\n"
            "Shall I send this to our sales team?"
        ]
        assert ann.buttons() == ["lead:confirm", "lead:edit", "cancel"]
        summary = ann.last
        ann.presses("lead:confirm")
        assert await ann.hears(1) == [
            "Thank you, Ann! Your request is saved. Nobody from our sales team is available "
            "right now, so it may take a while, but they will get back to you."
        ]
        ann.presses("lead:confirm", on=summary)  # a second tap on the old summary
        assert await ann.hears(2) == [STALE_BUTTON_EN, MENU_EN]
        # Every button press was answered (no spinner left in the customer's client).
        await fake.wait_until(
            lambda: len(fake.answered_callbacks) == len(ann.pressed),
            WAIT,
            what="every press answered",
        )
        assert [a["callback_query_id"] for a in fake.answered_callbacks] == ann.pressed

    assert ann.unheard() == []  # nothing beyond the transcript (a stop delivers what is due)
    [lead] = await cli_json(database_url, fake, "leads", "list")
    assert lead["need"] == "I need a quote for 25 ergonomic office chairs"
    assert (lead["name"], lead["company"], lead["email"]) == ("Ann", None, None)
    assert lead["phone"] == "+447911123456"
    assert (lead["status"], lead["source"]) == ("waiting", None)  # no rep could be told


async def test_a_lead_typed_in_russian_after_a_deep_link_keeps_its_campaign(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    ivan = Customer(fake, 2002, first_name="Иван", language_code="ru")
    async with touchpoint_run(database_url, fake, tmp_path):
        ivan.says("/start spring_promo")
        assert await ivan.hears(2) == [GREETING_RU, MENU_RU]
        ivan.says("Хочу купить 3 ноутбука для офиса")
        assert await ivan.hears(2) == [
            "Отлично, передам это нашему отделу продаж. "
            "Несколько коротких вопросов (в любой момент можно /cancel).",
            "Как вас зовут?",
        ]
        assert ivan.last.reply_markup == {
            "inline_keyboard": [[{"text": "Меня зовут Иван", "callback_data": "lead:use_name"}]]
        }
        ivan.says("Иван Петров")
        assert await ivan.hears(1) == [
            "Как с вами связаться нашему менеджеру? Напишите email или номер телефона."
        ]
        ivan.says("мой телефон 8 912 345-67-89")
        assert await ivan.hears(1) == [
            "Какую компанию вы представляете? (Пропустите, если вы частное лицо.)"
        ]
        ivan.says("ООО Ромашка")
        assert await ivan.hears(1) == [
            "Есть ли ориентир по бюджету и срокам? Например, «около 300 тысяч рублей, к маю». "
            "(Необязательно.)"
        ]
        ivan.says("около 300 тысяч рублей, в следующем месяце")
        assert await ivan.hears(1) == [
            "Проверьте, пожалуйста:\n"
            "Запрос: Хочу купить 3 ноутбука для офиса\n"
            "Имя: Иван Петров\n"
            "Компания: ООО Ромашка\n"
            "Телефон: +79123456789\n"
            "Бюджет: около 300 тысяч рублей\n"
            "Сроки: в следующем месяце\n"
            "Отправить это в отдел продаж?"
        ]
        ivan.says("да")
        assert await ivan.hears(1) == [
            "Спасибо, Иван Петров! Ваша заявка сохранена. Сейчас никого из отдела продаж нет на "
            "связи, поэтому ответ может занять время, но с вами обязательно свяжутся."
        ]

    assert ivan.unheard() == []  # nothing beyond the transcript (a stop delivers what is due)
    [lead] = await cli_json(database_url, fake, "leads", "list")
    assert lead["source"] == "spring_promo"
    assert (lead["name"], lead["company"], lead["phone"]) == (
        "Иван Петров",
        "ООО Ромашка",
        "+79123456789",
    )
    assert (lead["budget"], lead["timeline"]) == ("около 300 тысяч рублей", "в следующем месяце")
    assert lead["need"] == "Хочу купить 3 ноутбука для офиса"


async def test_a_ticket_is_opened_and_its_status_asked_for(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    olga = Customer(fake, 3003, first_name="Ольга", language_code="ru")
    async with touchpoint_run(database_url, fake, tmp_path):
        olga.says("Мой заказ 5531 пришёл разбитым, экран треснул и не включается")
        assert await olga.hears(1) == [
            "Заявка #1001 открыта. Команда займётся ей, и я вернусь с новостями в течение 24 ч. "
            "Статус можно узнать в любой момент: «статус #1001»."
        ]
        olga.says("/status 1001")
        [by_command] = await olga.hears(1)
        olga.says("статус заявки #1001")
        [by_words] = await olga.hears(1)
        olga.says("/status 1002")
        assert await olga.hears(1) == [
            "Среди ваших заявок нет #1002. Проверьте, пожалуйста, номер."
        ]

    assert olga.unheard() == []  # nothing beyond the transcript (a stop delivers what is due)
    for answer in (by_command, by_words):
        assert answer.startswith("Заявка #1001 (проблема с доставкой): открыта, обновлена ")
        assert answer.endswith(" UTC.")
    [ticket] = await cli_json(database_url, fake, "tickets", "list")
    assert (ticket["number"], ticket["status"], ticket["category"]) == (1001, "open", "delivery")
    assert ticket["summary"] == "Мой заказ 5531 пришёл разбитым, экран треснул и не включается"


async def test_a_customer_who_asks_for_a_person_with_no_rep_is_told_and_the_message_passed_on(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    ben = Customer(fake, 4004, first_name="Ben")
    async with touchpoint_run(database_url, fake, tmp_path):
        ben.says("I want to talk to a human")
        assert await ben.hears(1) == [NOBODY_EN]
        assert ben.buttons() == ["cancel"]
        ben.says("Hello? Is anybody there? I need the price list.")
        assert await ben.hears(1) == [PASSED_ON_EN]
        assert ben.buttons() == MENU_BUTTONS
        await until_taken(fake, ben.says("/help"))
    # SIGTERM delivered everything that was due before the exit: the help was due too.
    [help_text] = ben.unheard()
    assert help_text.startswith("Here is what I can do:")

    assert await cli_json(database_url, fake, "handoffs", "list") == []
    [ticket] = await cli_json(database_url, fake, "tickets", "list")
    assert (ticket["number"], ticket["category"]) == (1001, "message")
    assert ticket["summary"] == "Hello? Is anybody there? I need the price list."
    [contact] = await cli_json(database_url, fake, "contacts", "list")
    assert ticket["contact_id"] == contact["id"]
    assert contact["display_name"] == "Ben"


async def test_forged_buttons_and_someone_elses_contact_are_not_taken(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    kate = Customer(fake, 5005, first_name="Kate")
    async with touchpoint_run(database_url, fake, tmp_path):
        kate.says("/start")
        assert await kate.hears(2) == [GREETING_EN, MENU_EN]
        menu = kate.last
        # Data no keyboard of ours ever carried, then a lead button outside the lead flow.
        kate.presses("admin:delete_all_leads", on=menu)
        assert await kate.hears(2) == [STALE_BUTTON_EN, MENU_EN]
        kate.presses("lead:confirm", on=menu)
        assert await kate.hears(2) == [STALE_BUTTON_EN, MENU_EN]

        kate.says("I need a quote for 40 standing desks for our new office")
        assert await kate.hears(2) == [LEAD_INTRO_EN, ASK_NAME_EN]
        kate.says("Kate Miller")
        assert await kate.hears(1) == [ASK_CONTACT_EN]
        # A colleague's card, then a card without a user id: neither is Kate's own number.
        kate.shares_contact("+447911000111", owner=6006)
        assert await kate.hears(2) == [CONTACT_NOT_OWN_EN, ASK_CONTACT_EN]
        kate.shares_contact("+447911000222", owner=None)
        assert await kate.hears(2) == [CONTACT_NOT_OWN_EN, ASK_CONTACT_EN]
        kate.says("kate@contoso.example")
        assert await kate.hears(1) == [ASK_COMPANY_EN]
        kate.says("Contoso")
        assert await kate.hears(1) == [ASK_BUDGET_AND_DATE_EN]
        kate.presses("lead:skip")
        [summary] = await kate.hears(1)
        assert "Phone" not in summary
        kate.says("yes")
        assert await kate.hears(1) == [
            "Thank you, Kate Miller! Your request is saved. Nobody from our sales team is "
            "available right now, so it may take a while, but they will get back to you."
        ]
        # The rejected presses were answered too.
        await fake.wait_until(
            lambda: len(fake.answered_callbacks) == len(kate.pressed),
            WAIT,
            what="every press answered",
        )
        assert [a["callback_query_id"] for a in fake.answered_callbacks] == kate.pressed

    assert kate.unheard() == []  # nothing beyond the transcript (a stop delivers what is due)
    [lead] = await cli_json(database_url, fake, "leads", "list")
    assert (lead["name"], lead["company"]) == ("Kate Miller", "Contoso")
    assert (lead["email"], lead["phone"]) == ("kate@contoso.example", None)
    kinds = [row["kind"] for row in await cli_json(database_url, fake, "touchpoints", "list")]
    assert kinds.count("button_rejected") == 2


async def test_the_token_stays_out_of_a_debug_log_full_of_errors(
    sqlite_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    fake.add_fault("getUpdates", 502)
    fake.add_fault("sendMessage", 500)
    ann = Customer(fake, 1001)
    async with touchpoint_run(sqlite_url, fake, tmp_path, LOG_LEVEL="DEBUG") as bot:
        ann.says("/start")
        assert await ann.hears(2) == [GREETING_EN, MENU_EN]  # after a retry of each
    log = bot.log()
    assert "getUpdates failed: Bad Gateway" in log
    assert f"{fake.api_url}***" in log  # the client logged its URL, and it was masked
    # (touchpoint_run checked that neither the token nor its secret half is in the log)


# --- regressions: each of these was a bug


async def test_a_poison_update_first_in_the_queue_is_parked_and_never_stops_the_bot(
    database_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    # A button press without "from": python-telegram-bot parses it, reading it failed. It
    # ended `touchpoint run` before the offset moved, so every restart died on it again.
    poison = fake.inject(
        {
            "update_id": 1,
            "callback_query": {
                "id": "77",
                "chat_instance": "1",
                "data": "menu:lead",
                "message": {
                    "message_id": 3,
                    "date": 1700000000,
                    "chat": {"id": 1001, "type": "private"},
                },
            },
        }
    )
    ann = Customer(fake, 1001)
    ann.says("/start")
    async with touchpoint_run(database_url, fake, tmp_path):
        assert await ann.hears(2) == [GREETING_EN, MENU_EN]
        await fake.wait_until(
            lambda: fake.confirmed_offset > poison["update_id"] + 1, WAIT, what="the poison passed"
        )
    async with touchpoint_run(database_url, fake, tmp_path):  # a restart does not meet it again
        ann.says("/help")
        [help_text] = await ann.hears(1)
        assert help_text.startswith("Here is what I can do:")

    [parked] = await cli_json(database_url, fake, "dead-letters", "list")
    assert parked["channel"] == "telegram"
    assert parked["error"].startswith("unreadable: AttributeError")
    kinds = [row["kind"] for row in await cli_json(database_url, fake, "touchpoints", "list")]
    assert kinds.count("parked") == 1


async def test_a_deep_link_greets_a_russian_client_in_russian(
    sqlite_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    ivan = Customer(fake, 2002, first_name="Иван", language_code="ru")
    async with touchpoint_run(sqlite_url, fake, tmp_path):
        ivan.says("/start spring_promo")
        assert await ivan.hears(2) == [GREETING_RU, MENU_RU]


async def test_an_own_phone_shared_without_a_plus_is_taken(
    sqlite_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    ann = Customer(fake, 1001)
    async with touchpoint_run(sqlite_url, fake, tmp_path):
        ann.says("I need a quote for 25 ergonomic office chairs")
        assert await ann.hears(2) == [LEAD_INTRO_EN, ASK_NAME_EN]
        ann.presses("lead:use_name")
        assert await ann.hears(1) == [ASK_CONTACT_EN]
        ann.shares_contact("447911123456", owner=ann.chat_id)  # as Telegram sends it
        assert await ann.hears(1) == [ASK_COMPANY_EN]


async def test_a_rejected_token_is_reported_without_printing_or_storing_it(
    sqlite_url: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    # A reply waits in the outbox: the relay may try it before the start-up check stops the bot,
    # and python-telegram-bot's InvalidToken quotes the token. It used to reach the log,
    # outbox.last_error and a `failed` touchpoint.
    await queue_a_reply(sqlite_url)
    revoked = "7654321:AAH-revoked_SecretPart"  # the fake answers 401 to any other token
    env = environment(sqlite_url, fake, TELEGRAM_BOT_TOKEN=revoked)
    async with BotProcess(env, tmp_path / "bot.log") as bot:
        await fake.wait_until(lambda: bot.returncode is not None, WAIT, what="the bot exiting")
    assert bot.returncode not in (None, 0)
    log = bot.log()
    assert "TELEGRAM_BOT_TOKEN" in log  # and the operator learns which setting is wrong
    assert "was destroyed but it is pending" not in log  # work queued at the exit is refused
    stored = await stored_texts(sqlite_url)
    assert await waiting_replies(sqlite_url) == ["Still there?"]  # kept for the right token
    for secret in (revoked, revoked.split(":")[1]):
        assert secret not in log
        assert secret not in stored


async def queue_a_reply(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        await database.upgrade()
        async with database.transaction() as uow:
            row = NewOutbound(channel="telegram", address="1001", text="Still there?")
            await uow.outbox.enqueue([row], utc_now())
            await uow.commit()
    finally:
        await database.dispose()


async def waiting_replies(database_url: str) -> list[str | None]:
    database = Database.from_url(database_url)
    try:
        async with database.transaction() as uow:
            query = select(outbox.c.text).where(outbox.c.status.in_(("pending", "sending")))
            return list((await uow.connection.execute(query)).scalars().all())
    finally:
        await database.dispose()


async def stored_texts(database_url: str) -> str:
    """Every error text and touchpoint the bot stored, as one text to search."""
    database = Database.from_url(database_url)
    try:
        async with database.transaction() as uow:
            run = uow.connection.execute
            errors = (await run(select(outbox.c.last_error))).scalars().all()
            parked = (await run(select(dead_letters.c.error))).scalars().all()
            details = (await run(select(touchpoints.c.details))).scalars().all()
    finally:
        await database.dispose()
    return json.dumps([errors, parked, details], ensure_ascii=False)
