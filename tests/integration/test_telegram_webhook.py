"""Webhook mode in one process: the fake Bot API posts updates to the real adapter over HTTP on
127.0.0.1, as Telegram does. An update is answered 200 only once it is stored; a request that is
not Telegram's, or not an update, stores nothing; an outage answers 5xx so Telegram delivers the
update again."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from channels.telegram.webhook import MAX_BODY
from storage.tables import contacts, dead_letters, messages, outbox, touchpoints
from storage.uow import Database
from tests.fakes.telegram import FakeTelegram
from tests.integration.helpers import StoredMessage, count_rows, stored_messages, unreachable_like
from tests.telegram_harness import TelegramBot

ANN = 1001
SECRET = "s3cret_token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GREETING = (
    "Hello! I'm the Touchpoint assistant. I can prepare an offer for you, help with an "
    "existing order or request, or put you in touch with a person from our team."
)
MENU = "What would you like to do?"
HELP = (
    "Here is what I can do:\n- prepare an offer or a quote (say what you need)\n"
    '- open a service request and tell you its status ("status #1042")\n'
    "- connect you with a person (/human)\nYou can stop any question with /cancel."
)
LEAD_INTRO = (
    "Great, I'll prepare this for our sales team. "
    "A few short questions (you can /cancel at any time)."
)
ASK_NEED = (
    "What are you looking for? A product, a service, quantities — a sentence or two is enough."
)
NOTHING = {"messages": 0, "touchpoints": 0, "outbox": 0, "contacts": 0, "dead_letters": 0}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hook_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/tg/hook"


@asynccontextmanager
async def webhook_bot(database: Database, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    """The bot in webhook mode on a port of its own, once it has registered its webhook."""
    port = free_port()
    bot = TelegramBot(
        database,
        fake,
        webhook_url=hook_url(port),
        webhook_secret=SECRET,
        webhook_listen=f"127.0.0.1:{port}",
    )
    async with bot:
        # setWebhook comes after the listener is up: once it is registered, posts are served.
        await fake.wait_until(lambda: fake.webhook_url == hook_url(port) or bool(bot.crashed()))
        assert bot.crashed() is None
        yield bot
        assert bot.crashed() is None


@asynccontextmanager
async def unreachable(database: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of the same engine that cannot be opened (a folder; a closed port)."""
    away = unreachable_like(database, tmp_path)
    try:
        yield away
    finally:
        await away.dispose()


async def stored(database: Database) -> dict[str, int]:
    tables = (messages, touchpoints, outbox, contacts, dead_letters)
    return {table.name: await count_rows(database, table) for table in tables}


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        return response.status, await response.text()


async def raw_request(port: int, head: bytes, body: bytes = b"") -> int:
    """An HTTP/1.1 request written byte for byte (headers aiohttp's client would not send);
    returns the status code of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


def port_of(fake: FakeTelegram) -> int:
    assert fake.webhook_url is not None
    port = urlsplit(fake.webhook_url).port
    assert port is not None
    return port


# --- registration and the happy path


async def test_the_webhook_is_registered_with_its_secret_and_nothing_polls(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        assert fake.webhook_url is not None and fake.webhook_url.endswith("/tg/hook")
        assert fake.webhook_secret == SECRET
        status, body = await get(fake.webhook_url.replace("/tg/hook", "/healthz"))
    assert (status, body) == (200, "ok")
    assert "getUpdates" not in [call.method for call in fake.calls]


async def test_an_update_is_answered_200_only_once_it_is_stored(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        start = fake.user_message(ANN, "/start")
        assert await fake.post_to_webhook(start) == (200, "ok")
        # The 200 came after the commit: the message is already in the database.
        key = f"{ANN}:{start['message']['message_id']}"
        assert await stored_messages(database, "in") == [StoredMessage("in", key, "/start", False)]
        await fake.wait_sent(2)
    assert fake.texts_to(ANN) == [GREETING, MENU]
    assert fake.pending_updates == 0


async def test_a_button_pressed_through_the_webhook_is_answered_after_commit(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        assert await fake.post_to_webhook(fake.user_message(ANN, "/start")) == (200, "ok")
        await fake.wait_sent(2)
        press = fake.user_callback(ANN, "menu:lead", message_id=fake.sent[-1].message_id)
        assert await fake.post_to_webhook(press) == (200, "ok")
        # The spinner is stopped before the 200: Telegram gets its answer with the update.
        assert [a["callback_query_id"] for a in fake.answered_callbacks] == [
            press["callback_query"]["id"]
        ]
        await fake.wait_sent(4)
    assert fake.texts_to(ANN)[2:] == [LEAD_INTRO, ASK_NEED]


# --- requests that are not Telegram's


@pytest.mark.parametrize(
    "secret",
    ["wrong", SECRET.upper(), SECRET + "x", SECRET[:-1], f"{SECRET} {SECRET}"],
    ids=["other", "upper-case", "longer", "shorter", "repeated"],
)
async def test_a_wrong_secret_is_refused_and_nothing_is_stored(
    database: Database, fake: FakeTelegram, secret: str
) -> None:
    async with webhook_bot(database, fake):
        update = fake.user_message(ANN, "/start")
        assert await fake.post_to_webhook(update, secret=secret) == (403, "forbidden")
        assert await stored(database) == NOTHING
        assert fake.pending_updates == 1  # not acknowledged: Telegram still holds it
        # The real Telegram delivers the same update with the right secret: handled once.
        assert await fake.deliver_to_webhook() == [200]
        await fake.wait_sent(2)
        assert [m.text for m in await stored_messages(database, "in")] == ["/start"]
    assert fake.texts_to(ANN) == [GREETING, MENU]


async def test_a_missing_secret_is_refused_and_nothing_is_stored(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        update = fake.user_message(ANN, "/start")
        assert await fake.post_to_webhook(update, secret=None) == (403, "forbidden")
        assert await fake.post_to_webhook(update, secret=None, headers={SECRET_HEADER: ""}) == (
            403,
            "forbidden",
        )
        # A header that is not even valid UTF-8 is a wrong secret too, not a server error.
        head = (
            b"POST /tg/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Telegram-Bot-Api-Secret-Token: s3cret_\xff\xfe\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n"
        )
        assert await raw_request(port_of(fake), head, b"{}") == 403
        assert await stored(database) == NOTHING
    assert fake.sent == []
    assert fake.answered_callbacks == []


# --- duplicates


async def test_the_same_update_posted_twice_is_answered_once(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        start = fake.user_message(ANN, "/start")
        assert await fake.post_to_webhook(start) == (200, "ok")
        assert await fake.post_to_webhook(start) == (200, "ok")  # Telegram's retry
        await fake.wait_sent(2)
        # A later message is answered: had the repeat produced replies, they would be before it.
        assert await fake.post_to_webhook(fake.user_message(ANN, "/help")) == (200, "ok")
        await fake.wait_sent(3)
        inbound = [m.text for m in await stored_messages(database, "in")]
    assert fake.texts_to(ANN) == [GREETING, MENU, HELP]
    assert inbound == ["/start", "/help"]


async def test_the_same_update_posted_twice_at_once_is_stored_once(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        start = fake.user_message(ANN, "/start")
        answers = await asyncio.gather(fake.post_to_webhook(start), fake.post_to_webhook(start))
        assert list(answers) == [(200, "ok"), (200, "ok")]
        await fake.wait_sent(2)
        assert await fake.post_to_webhook(fake.user_message(ANN, "/help")) == (200, "ok")
        await fake.wait_sent(3)
        inbound = [m.text for m in await stored_messages(database, "in")]
    assert fake.texts_to(ANN) == [GREETING, MENU, HELP]
    assert inbound == ["/start", "/help"]


# --- bodies that are not updates


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe{}",
        b'{"message": {"message_id": 1, "chat": {"id": 1001, "type": "private"}, "date": 0}}',
        b"[1, 2, 3]",
        b'"update"',
        b'{"update_id": "7", "message": {}}',
        b'{"update_id": true}',
        b'{"update_id": 7.5}',
        b"[" * 100_000,
    ],
    ids=[
        "not-json",
        "empty",
        "not-utf8",
        "no-update-id",
        "array",
        "string",
        "id-as-text",
        "id-as-bool",
        "id-as-float",
        "nested-too-deep",
    ],
)
async def test_a_body_that_is_not_an_update_is_refused_and_nothing_is_stored(
    database: Database, fake: FakeTelegram, body: bytes
) -> None:
    async with webhook_bot(database, fake):
        assert await fake.post_to_webhook(body) == (400, "not a Telegram update")
        assert await stored(database) == NOTHING
    assert fake.sent == []


async def test_an_update_the_client_cannot_read_is_parked_and_acknowledged(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        # A well-formed envelope whose content python-telegram-bot cannot parse: kept as a dead
        # letter with its raw JSON, and answered 200 so that it never blocks the updates behind.
        poison = fake.inject({"update_id": 900, "message": {"message_id": "not a number"}})
        assert await fake.post_to_webhook(poison) == (200, "ok")
        assert await fake.post_to_webhook(fake.user_message(ANN, "/start")) == (200, "ok")
        await fake.wait_sent(2)
        counts = await stored(database)
    assert counts["dead_letters"] == 1
    assert fake.texts_to(ANN) == [GREETING, MENU]
    assert fake.pending_updates == 0


async def test_a_button_press_without_a_sender_is_parked_and_acknowledged(
    database: Database, fake: FakeTelegram
) -> None:
    # Normalising it used to happen outside the guard: a 500, and Telegram redelivering the same
    # update forever.
    press = {
        "callback_query": {
            "id": "77",
            "chat_instance": "1",
            "data": "menu:lead",
            "message": {
                "message_id": 3,
                "date": 1700000000,
                "chat": {"id": ANN, "type": "private"},
            },
        }
    }
    async with webhook_bot(database, fake):
        poison = fake.inject(press)
        assert await fake.post_to_webhook(poison) == (200, "ok")
        assert await fake.post_to_webhook(poison) == (200, "ok")
        assert await fake.post_to_webhook(fake.user_message(ANN, "/start")) == (200, "ok")
        await fake.wait_sent(2)
        counts = await stored(database)
    assert counts["dead_letters"] == 1
    assert fake.texts_to(ANN) == [GREETING, MENU]


async def test_an_oversized_body_is_refused_and_nothing_is_stored(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        update = fake.user_message(ANN, "x" * (MAX_BODY + 1))
        status, _ = await fake.post_to_webhook(update)
        assert status == 413
        assert await stored(database) == NOTHING
        assert fake.pending_updates == 1
    assert fake.sent == []


# --- health and outages


async def test_health_is_answered_without_the_database(
    database: Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    async with unreachable(database, tmp_path) as away, webhook_bot(away, fake):
        assert fake.webhook_url is not None
        health = fake.webhook_url.replace("/tg/hook", "/healthz")
        assert await get(health) == (200, "ok")
        # The core really cannot be reached: an update gets 503 while /healthz says ok.
        assert (await fake.post_to_webhook(fake.user_message(ANN, "/start")))[0] == 503
        assert await get(health) == (200, "ok")
    assert fake.sent == []


async def test_an_update_the_database_cannot_take_gets_5xx_and_is_handled_when_redelivered(
    database: Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    fake.user_message(ANN, "/start")
    async with unreachable(database, tmp_path) as away, webhook_bot(away, fake):
        assert await fake.deliver_to_webhook() == [503]
        assert await fake.deliver_to_webhook() == [503]  # Telegram retries; still away
    assert fake.pending_updates == 1  # nothing was acknowledged
    assert fake.sent == []
    assert await stored(database) == NOTHING

    # The database is back (the same update reaches an instance that can store it).
    async with webhook_bot(database, fake):
        assert await fake.deliver_to_webhook() == [200]
        await fake.wait_sent(2)
        inbound = [m.text for m in await stored_messages(database, "in")]
    assert fake.pending_updates == 0
    assert fake.texts_to(ANN) == [GREETING, MENU]
    assert inbound == ["/start"]


async def test_a_button_pressed_during_an_outage_is_answered_only_once_it_is_handled(
    database: Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    press = fake.user_callback(ANN, "menu:human", message_id=1)
    async with unreachable(database, tmp_path) as away, webhook_bot(away, fake):
        assert await fake.deliver_to_webhook() == [503]
    assert fake.answered_callbacks == []

    async with webhook_bot(database, fake):
        assert await fake.deliver_to_webhook() == [200]
        await fake.wait_sent(1)
    assert [a["callback_query_id"] for a in fake.answered_callbacks] == [
        press["callback_query"]["id"]
    ]
    assert fake.texts_to(ANN) == [  # no rep is registered: said so, once
        "Nobody from our team is available right now, so I can't put you through to a person. "
        "If you like, write your message here and I'll pass it on to the team. "
        "Or /cancel to carry on with me."
    ]


# --- order within a chat


async def test_an_older_message_posted_after_a_newer_one_is_stored_but_not_answered(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        assert await fake.post_to_webhook(fake.user_message(ANN, "/start")) == (200, "ok")
        await fake.wait_sent(2)
        older = fake.user_message(ANN, "hello?")
        newer = fake.user_message(ANN, "/help")
        assert await fake.post_to_webhook(newer) == (200, "ok")
        await fake.wait_sent(3)
        # The older one comes last, beside Telegram's repeat of the newer one.
        answers = await asyncio.gather(fake.post_to_webhook(older), fake.post_to_webhook(newer))
        assert list(answers) == [(200, "ok"), (200, "ok")]
        assert await fake.post_to_webhook(fake.user_message(ANN, "/help")) == (200, "ok")
        await fake.wait_sent(4)
        inbound = [m.text for m in await stored_messages(database, "in")]
        timeline = await customer_timeline(database)
    assert fake.texts_to(ANN) == [GREETING, MENU, HELP, HELP]
    assert inbound == ["/start", "/help", "hello?", "/help"]
    assert timeline == [("/start", False), ("hello?", True), ("/help", False), ("/help", False)]


async def test_a_burst_of_one_chat_posted_at_once_is_stored_once_and_answered_in_order(
    database: Database, fake: FakeTelegram
) -> None:
    async with webhook_bot(database, fake):
        assert await fake.post_to_webhook(fake.user_message(ANN, "/start")) == (200, "ok")
        await fake.wait_sent(2)
        burst = [fake.user_message(ANN, "/help") for _ in range(8)]
        # Telegram's parallel connections: any order, and some updates twice.
        shuffled = [burst[at] for at in (2, 0, 5, 1, 7, 3, 6, 4)] + burst[::3]
        posts = [fake.post_to_webhook(update) for update in shuffled]
        assert set(await asyncio.gather(*posts)) == {(200, "ok")}
        answered = await answered_sequences(database)
        await fake.wait_sent(1 + len(answered))
        late = [text for text, is_late in await customer_timeline(database) if is_late]
        keys = [m.external_id for m in await stored_messages(database, "in")]
    sequences = [update["message"]["message_id"] for update in burst]
    assert sorted(keys[1:]) == sorted(f"{ANN}:{sequence}" for sequence in sequences)
    # Each answered message was newer than every one answered before it; the others are late.
    assert answered[0] < sequences[0] and answered[1:] == sorted(set(answered[1:]))
    assert len(answered) - 1 + len(late) == len(burst)
    assert fake.texts_to(ANN) == [GREETING, MENU] + [HELP] * (len(answered) - 1)


async def customer_timeline(database: Database) -> list[tuple[str, bool]]:
    """The customer's messages in the order the timeline shows them, and which are late."""
    async with database.transaction() as uow:
        found = await uow.touchpoints.search(kind="message_in")
    return [(row.details["text"], row.details.get("late") is True) for row in found]


async def answered_sequences(database: Database) -> list[int]:
    """The message id of the message each reply answers, in the order the replies go out."""
    query = (
        select(messages.c.external_id)
        .join(outbox, outbox.c.inbound_message_id == messages.c.id)
        .order_by(outbox.c.id)
    )
    async with database.transaction() as uow:
        keys = list((await uow.connection.execute(query)).scalars())
    # "/start" is answered twice (the greeting and the menu): one entry per answered message.
    unique = list(dict.fromkeys(keys))
    return [int(key.rpartition(":")[2]) for key in unique]
