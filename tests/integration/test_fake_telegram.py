"""The fake Bot API, driven by the real python-telegram-bot client over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    ChatMemberBanned,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.fakes.telegram import FakeTelegram

ANN = 42
QUOTE_BUTTON = InlineKeyboardMarkup([[InlineKeyboardButton("Get a quote", callback_data="quote")]])


@pytest.fixture
async def ptb(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(token=fake.token, base_url=fake.api_url) as client:
        yield client


def seconds(value: int | timedelta) -> float:
    """RetryAfter.retry_after is an int today and a timedelta under PTB_TIMEDELTA=1."""
    return value.total_seconds() if isinstance(value, timedelta) else value


# --- getMe and tokens


async def test_get_me_describes_the_fake_bot(fake: FakeTelegram, ptb: Bot) -> None:
    me = await ptb.get_me()

    assert (me.id, me.username, me.is_bot) == (fake.bot_id, fake.bot_username, True)
    assert [call.method for call in fake.calls] == ["getMe", "getMe"]  # one from `async with`


async def test_another_token_is_unauthorized(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot(token="999:other-token", base_url=fake.api_url):
            pass

    assert [(call.method, call.status) for call in fake.calls] == [("getMe", 401)]


async def test_unknown_method_is_not_found(fake: FakeTelegram, ptb: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await ptb.do_api_request("sendHologram", api_kwargs={"chat_id": ANN})

    assert fake.calls[-1].status == 404


# --- getUpdates


async def test_an_offset_confirms_updates_for_good(fake: FakeTelegram, ptb: Bot) -> None:
    fake.user_message(ANN, "Hello")
    fake.user_message(ANN, "I need a quote")

    updates = await ptb.get_updates()
    again = await ptb.get_updates()
    after = await ptb.get_updates(offset=updates[-1].update_id + 1)

    assert [u.message.text for u in updates if u.message] == ["Hello", "I need a quote"]
    assert [u.update_id for u in again] == [u.update_id for u in updates]  # not confirmed yet
    assert after == ()
    assert (fake.confirmed_offset, fake.pending_updates) == (updates[-1].update_id + 1, 0)


async def test_a_negative_offset_keeps_only_the_last_updates(fake: FakeTelegram, ptb: Bot) -> None:
    for text in ("one", "two", "three"):
        fake.user_message(ANN, text)

    updates = await ptb.get_updates(offset=-1)

    assert [u.message.text for u in updates if u.message] == ["three"]
    assert fake.pending_updates == 1


async def test_limit_and_allowed_updates_select_what_is_returned(
    fake: FakeTelegram, ptb: Bot
) -> None:
    fake.user_message(ANN, "Hello")
    fake.user_callback(ANN, "quote", message_id=1)
    fake.user_callback(ANN, "service", message_id=1)

    first = await ptb.get_updates(limit=1)
    callbacks = await ptb.get_updates(allowed_updates=["callback_query"])

    assert [u.message.text for u in first if u.message] == ["Hello"]
    assert [u.callback_query.data for u in callbacks if u.callback_query] == ["quote", "service"]


async def test_a_long_poll_returns_as_soon_as_an_update_is_queued(
    fake: FakeTelegram, ptb: Bot
) -> None:
    poll = asyncio.create_task(ptb.get_updates(timeout=5))
    await fake.wait_until(lambda: fake.polling)

    fake.user_message(ANN, "Are you there?")

    assert [u.message.text for u in await poll if u.message] == ["Are you there?"]


async def test_a_second_poller_ends_the_waiting_one_with_conflict(
    fake: FakeTelegram, ptb: Bot
) -> None:
    waiting = asyncio.create_task(ptb.get_updates(timeout=5))
    await fake.wait_until(lambda: fake.polling)

    async with Bot(token=fake.token, base_url=fake.api_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()

    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await waiting


# --- sendMessage and editMessageText


async def test_a_message_with_an_inline_keyboard_round_trips(fake: FakeTelegram, ptb: Bot) -> None:
    fake.user_message(ANN, "Hello")

    message = await ptb.send_message(ANN, "What would you like to do?", reply_markup=QUOTE_BUTTON)

    assert (message.message_id, message.chat.id, message.text) == (
        2,  # ids run per chat, after the user's message 1
        ANN,
        "What would you like to do?",
    )
    assert message.from_user is not None and message.from_user.id == fake.bot_id
    assert message.reply_markup == QUOTE_BUTTON
    [sent] = fake.sent
    assert (sent.chat_id, sent.message_id, sent.method) == (ANN, 2, "sendMessage")
    assert sent.reply_markup == QUOTE_BUTTON.to_dict()
    assert fake.texts_to(ANN) == ["What would you like to do?"]


async def test_a_request_contact_keyboard_is_recorded(fake: FakeTelegram, ptb: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share my number", request_contact=True)]], one_time_keyboard=True
    )

    message = await ptb.send_message(ANN, "May I have your number?", reply_markup=keyboard)

    assert message.reply_markup is None  # Telegram echoes inline keyboards only
    markup = fake.sent[0].reply_markup
    assert markup is not None
    assert markup["keyboard"][0][0] == {"text": "Share my number", "request_contact": True}
    assert markup["one_time_keyboard"] is True


@pytest.mark.parametrize(
    ("text", "error"),
    [("x" * 4097, "message is too long"), ("", "message text is empty"), ("  ", "text is empty")],
)
async def test_a_bad_text_is_refused_and_not_sent(
    fake: FakeTelegram, ptb: Bot, text: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await ptb.send_message(ANN, text)

    assert fake.sent == []


async def test_4096_characters_are_accepted(fake: FakeTelegram, ptb: Bot) -> None:
    await ptb.send_message(ANN, "я" * 4096)

    assert len(fake.texts_to(ANN)[0]) == 4096


async def test_callback_data_is_limited_to_64_bytes(fake: FakeTelegram, ptb: Bot) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Да", callback_data=data)]])

    await ptb.send_message(ANN, "Fits", reply_markup=keyboard("д" * 32))  # 64 bytes
    with pytest.raises(BadRequest) as raised:
        await ptb.send_message(ANN, "Too long", reply_markup=keyboard("д" * 33))

    # PTB drops "Bad Request: " and str.capitalize()s the rest, so match errors ignoring case.
    assert str(raised.value) == "Button_data_invalid"
    assert fake.texts_to(ANN) == ["Fits"]


async def test_html_is_shown_as_text_and_broken_markup_refused(
    fake: FakeTelegram, ptb: Bot
) -> None:
    await ptb.send_message(ANN, "<b>Hi</b> &lt;you&gt;", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await ptb.send_message(ANN, "<b>Hi", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)character '.' is reserved"):
        await ptb.send_message(ANN, "Total: 5.00", parse_mode="MarkdownV2")

    [sent] = fake.sent
    assert (sent.text, sent.raw_text, sent.parse_mode) == (
        "Hi <you>",
        "<b>Hi</b> &lt;you&gt;",
        "HTML",
    )


async def test_an_edit_changes_the_message_once(fake: FakeTelegram, ptb: Bot) -> None:
    message = await ptb.send_message(ANN, "Pick one", reply_markup=QUOTE_BUTTON)

    edited = await ptb.edit_message_text(
        "Picked: quote", chat_id=ANN, message_id=message.message_id
    )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await ptb.edit_message_text("Picked: quote", chat_id=ANN, message_id=message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await ptb.edit_message_text("Nope", chat_id=ANN, message_id=99)

    assert isinstance(edited, Message)
    assert edited.reply_markup is None  # an edit without a keyboard removes it
    assert [(m.method, m.text) for m in fake.sent] == [
        ("sendMessage", "Pick one"),
        ("editMessageText", "Picked: quote"),
    ]
    assert fake.texts_to(ANN) == ["Pick one"]
    assert fake.texts_to(ANN, edits=True) == ["Pick one", "Picked: quote"]


# --- faults and blocking


# PTB 22 warns on every read of an int retry_after (it will become a timedelta).
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_429_fault_raises_retry_after(fake: FakeTelegram, ptb: Bot) -> None:
    fake.add_fault("sendMessage", 429, retry_after=3)

    with pytest.raises(RetryAfter) as raised:
        await ptb.send_message(ANN, "Hello")
    await ptb.send_message(ANN, "Hello again")

    assert seconds(raised.value.retry_after) == 3
    assert fake.texts_to(ANN) == ["Hello again"]  # the faulted call sent nothing
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 200]


async def test_a_fault_for_one_chat_leaves_others_alone(fake: FakeTelegram, ptb: Bot) -> None:
    fake.add_fault("SENDMESSAGE", 400, description="Bad Request: chat not found", chat_id=7)

    await ptb.send_message(8, "To eight")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await ptb.send_message(7, "To seven")
    await ptb.send_message(7, "To seven, again")

    assert [(m.chat_id, m.text) for m in fake.sent] == [(8, "To eight"), (7, "To seven, again")]


@pytest.mark.parametrize("code", [500, 502])
async def test_server_errors_raise_network_error(fake: FakeTelegram, ptb: Bot, code: int) -> None:
    fake.add_fault("sendMessage", code, times=2)

    for _ in range(2):
        with pytest.raises(NetworkError) as raised:
            await ptb.send_message(ANN, "Hello")
        assert not isinstance(raised.value, BadRequest)  # BadRequest subclasses NetworkError

    assert fake.sent == []


async def test_a_user_who_blocked_the_bot_gets_nothing_until_unblocking(
    fake: FakeTelegram, ptb: Bot
) -> None:
    fake.user_blocks_bot(ANN)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await ptb.send_message(ANN, "Still there?")
    fake.user_unblocks_bot(ANN)
    await ptb.send_message(ANN, "Welcome back")

    changes = [u.my_chat_member for u in await ptb.get_updates()]
    assert [c.new_chat_member.status for c in changes if c] == ["kicked", "member"]
    assert fake.texts_to(ANN) == ["Welcome back"]


# --- callbacks


async def test_a_callback_query_can_be_answered_once(fake: FakeTelegram, ptb: Bot) -> None:
    message = await ptb.send_message(ANN, "Pick one", reply_markup=QUOTE_BUTTON)
    fake.user_callback(ANN, "quote", message_id=message.message_id)
    [update] = await ptb.get_updates()
    query = update.callback_query
    assert query is not None and query.message is not None

    assert await ptb.answer_callback_query(query.id, text="Noted") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await ptb.answer_callback_query(query.id, text="Noted")
    with pytest.raises(BadRequest):
        await ptb.answer_callback_query("unknown-id")

    assert query.message.message_id == message.message_id
    assert getattr(query.message, "reply_markup", None) == QUOTE_BUTTON
    assert [a["text"] for a in fake.answered_callbacks] == ["Noted"]


# --- the test-side builders, parsed by PTB


async def test_a_deep_link_start_carries_a_bot_command_entity(fake: FakeTelegram, ptb: Bot) -> None:
    update = Update.de_json(fake.user_message(ANN, "/start ad_campaign_42", username="ann"), ptb)

    message = update.message
    assert message is not None and message.from_user is not None
    assert message.entities == (MessageEntity(MessageEntity.BOT_COMMAND, 0, 6),)
    assert (message.chat.type, message.chat.id, message.from_user.username) == (
        "private",
        ANN,
        "ann",
    )


async def test_command_offsets_count_utf16_code_units(fake: FakeTelegram, ptb: Bot) -> None:
    update = Update.de_json(fake.user_message(ANN, "👋 then /help@TouchpointTestBot"), ptb)

    assert update.message is not None
    assert [e.offset for e in update.message.entities] == [8]  # the emoji is two units
    assert list(update.message.parse_entities().values()) == ["/help@TouchpointTestBot"]


async def test_negative_chat_ids_are_groups(fake: FakeTelegram, ptb: Bot) -> None:
    group = Update.de_json(fake.user_message(-4001, "/price", user_id=ANN), ptb)
    supergroup = Update.de_json(fake.user_message(-1001234567890, "hi", user_id=ANN), ptb)

    assert group.effective_chat is not None and supergroup.effective_chat is not None
    assert (group.effective_chat.type, supergroup.effective_chat.type) == ("group", "supergroup")
    assert group.effective_user is not None and group.effective_user.id == ANN
    with pytest.raises(ValueError, match="user_id"):
        fake.user_message(-4001, "who am I?")


async def test_a_callback_carries_the_bots_message(fake: FakeTelegram, ptb: Bot) -> None:
    sent = await ptb.send_message(ANN, "Pick one", reply_markup=QUOTE_BUTTON)

    update = Update.de_json(fake.user_callback(ANN, "quote", message_id=sent.message_id), ptb)

    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    assert (query.data, query.from_user.id) == ("quote", ANN)
    assert (query.message.text, query.message.reply_markup) == ("Pick one", QUOTE_BUTTON)


async def test_a_contact_says_whose_number_it_is(fake: FakeTelegram, ptb: Bot) -> None:
    own = Update.de_json(fake.user_contact(ANN, "+79161234567", contact_user_id=ANN), ptb)
    forwarded = Update.de_json(fake.user_contact(ANN, "+441234", contact_user_id=None), ptb)

    assert own.message is not None and own.message.contact is not None
    assert own.message.from_user is not None
    assert own.message.contact.user_id == own.message.from_user.id == ANN
    assert forwarded.message is not None and forwarded.message.contact is not None
    assert forwarded.message.contact.user_id is None


async def test_an_edit_keeps_the_message_id(fake: FakeTelegram, ptb: Bot) -> None:
    first = fake.user_message(ANN, "I need 3 chairs")

    update = Update.de_json(fake.user_edit(ANN, first["message"]["message_id"], "I need 4"), ptb)

    edited = update.edited_message
    assert edited is not None and edited.edit_date is not None
    assert (edited.message_id, edited.text) == (first["message"]["message_id"], "I need 4")
    bots_own = await ptb.send_message(ANN, "How many?")
    with pytest.raises(ValueError, match="of the user's"):
        fake.user_edit(ANN, bots_own.message_id, "Users cannot edit this")


async def test_blocking_is_a_my_chat_member_update(fake: FakeTelegram, ptb: Bot) -> None:
    update = Update.de_json(fake.user_blocks_bot(ANN), ptb)

    change = update.my_chat_member
    assert change is not None
    assert isinstance(change.old_chat_member, ChatMemberMember)
    assert isinstance(change.new_chat_member, ChatMemberBanned)
    assert change.new_chat_member.user.id == fake.bot_id


async def test_a_reply_nests_the_replied_message(fake: FakeTelegram, ptb: Bot) -> None:
    question = await ptb.send_message(ANN, "Your city?")

    update = Update.de_json(
        fake.user_message(ANN, "Porto", reply_to_message_id=question.message_id), ptb
    )

    assert update.message is not None and update.message.reply_to_message is not None
    assert update.message.reply_to_message.text == "Your city?"


async def test_injected_updates_keep_ids_in_order(fake: FakeTelegram, ptb: Bot) -> None:
    fake.user_message(ANN, "first")
    sample = {
        "update_id": 0,
        "message": {
            "message_id": 7,
            "date": 0,
            "chat": {"id": 9, "type": "private"},
            "text": "corpus",
        },
    }

    injected = fake.inject(sample)
    fake.user_message(ANN, "last")

    assert sample["update_id"] == 0  # the caller's dict is left alone
    assert [u.update_id for u in await ptb.get_updates()] == [1, injected["update_id"], 3]
    assert injected["update_id"] == 2


async def test_builders_arrive_through_get_updates_as_built(fake: FakeTelegram, ptb: Bot) -> None:
    sent = await ptb.send_message(ANN, "Pick one", reply_markup=QUOTE_BUTTON)
    start = fake.user_message(ANN, "/start")
    built = [
        start,
        fake.user_callback(ANN, "quote", message_id=sent.message_id),
        fake.user_contact(ANN, "+79161234567", contact_user_id=ANN),
        fake.user_edit(ANN, start["message"]["message_id"], "/start again"),
        fake.user_blocks_bot(ANN),
    ]

    received = await ptb.get_updates()

    assert [u.to_dict() for u in received] == [Update.de_json(b, ptb).to_dict() for b in built]


# --- a whole PTB Application against the fake


async def test_an_application_polls_and_replies(fake: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"You said: {update.message.text}")

    app = ApplicationBuilder().token(fake.token).base_url(fake.api_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    fake.user_message(ANN, "Hello")
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        await fake.wait_sent(1)
        await app.updater.stop()  # confirms what it fetched with a last getUpdates
        await app.stop()

    assert fake.texts_to(ANN) == ["You said: Hello"]
    assert (fake.pending_updates, fake.confirmed_offset) == (0, 2)


# --- webhooks


async def test_get_updates_conflicts_with_a_webhook_until_it_is_deleted(
    fake: FakeTelegram, ptb: Bot
) -> None:
    fake.user_message(ANN, "Hello")
    await ptb.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret-Token_1")

    with pytest.raises(Conflict, match="webhook is active"):
        await ptb.get_updates()
    info = await ptb.get_webhook_info()
    await ptb.delete_webhook()
    updates = await ptb.get_updates()

    assert (info.url, info.pending_update_count) == ("http://127.0.0.1:9/hook", 1)
    assert [u.message.text for u in updates if u.message] == ["Hello"]
    assert fake.webhook_url is None


async def test_drop_pending_updates_forgets_the_backlog(fake: FakeTelegram, ptb: Bot) -> None:
    fake.user_message(ANN, "sent while the bot was down")

    await ptb.delete_webhook(drop_pending_updates=True)

    assert fake.pending_updates == 0
    assert await ptb.get_updates() == ()


async def test_a_webhook_secret_must_use_telegrams_alphabet(fake: FakeTelegram, ptb: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await ptb.set_webhook("http://127.0.0.1:9/hook", secret_token="not allowed!")

    assert fake.webhook_url is None


class WebhookReceiver:
    """A bot's webhook endpoint in miniature: it records what arrives and checks the secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[str | None, dict[str, object]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        self.received.append((header, await request.json()))
        return web.Response(status=200 if header == self.secret else 403)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver("s3cret")
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await web.SockSite(runner, sock).start()
    yield receiver
    await runner.cleanup()


async def test_post_to_webhook_sends_the_registered_secret(
    fake: FakeTelegram, ptb: Bot, receiver: WebhookReceiver
) -> None:
    await ptb.set_webhook(receiver.url, secret_token="s3cret")
    update = fake.user_message(ANN, "Hello")

    forged = await fake.post_to_webhook(update, secret="guess")
    assert fake.pending_updates == 1  # a refused delivery stays pending
    delivered = await fake.post_to_webhook(update)

    assert (forged[0], delivered[0]) == (403, 200)
    assert [secret for secret, _ in receiver.received] == ["guess", "s3cret"]
    assert receiver.received[1][1] == update
    assert fake.pending_updates == 0


async def test_deliver_to_webhook_posts_pending_updates_in_order(
    fake: FakeTelegram, ptb: Bot, receiver: WebhookReceiver
) -> None:
    fake.user_message(ANN, "one")
    fake.user_message(ANN, "two")
    await ptb.set_webhook(receiver.url, secret_token="s3cret")

    assert await fake.deliver_to_webhook() == [200, 200]
    assert [body["message"]["text"] for _, body in receiver.received] == ["one", "two"]  # type: ignore[index]
    assert fake.pending_updates == 0


async def test_post_to_webhook_refuses_hosts_other_than_loopback(
    fake: FakeTelegram, ptb: Bot
) -> None:
    await ptb.set_webhook("https://example.com/hook")

    with pytest.raises(ValueError, match=r"only to 127\.0\.0\.1"):
        await fake.post_to_webhook(fake.user_message(ANN, "Hello"))


# --- request encodings


async def test_json_bodies_query_strings_and_method_case_are_accepted(fake: FakeTelegram) -> None:
    base = f"{fake.api_url}{fake.token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/SendMessage", json={"chat_id": ANN, "text": "42"}) as r:
            by_json = await r.json()
        async with session.get(f"{base}/getme") as r:
            by_get = await r.json()

    assert by_json["result"]["text"] == "42"  # a text stays a string
    assert by_get["result"]["id"] == fake.bot_id
    assert [call.method for call in fake.calls] == ["sendMessage", "getMe"]
    assert fake.calls[0].params == {"chat_id": ANN, "text": "42"}


async def test_ptb_form_fields_are_decoded_in_calls(fake: FakeTelegram, ptb: Bot) -> None:
    await ptb.send_message(ANN, "true", reply_markup=QUOTE_BUTTON, disable_notification=True)

    params = fake.calls[-1].params
    assert params["chat_id"] == ANN and params["text"] == "true"
    assert params["disable_notification"] is True
    assert params["reply_markup"] == QUOTE_BUTTON.to_dict()


async def test_wait_sent_names_what_was_sent_when_it_times_out(
    fake: FakeTelegram, ptb: Bot
) -> None:
    await ptb.send_message(ANN, "only one")

    with pytest.raises(
        AssertionError, match=r"(?s)waiting for 2 sent messages.*'only one'.*sendMessage"
    ):
        await fake.wait_sent(2, timeout=0.05)
