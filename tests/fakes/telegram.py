"""A fake Telegram Bot API on 127.0.0.1 for tests that run the real python-telegram-bot client.

    async with FakeTelegram() as fake:
        bot = Bot(token=fake.token, base_url=fake.api_url)
        fake.user_message(42, "/start ad_campaign_42")
        ...                                   # run the bot
        await fake.wait_sent(1)
        assert fake.texts_to(42) == ["Hello!"]

Test side: `user_*` builders and `inject` queue updates for getUpdates (and return them, for
`post_to_webhook`); `add_fault` scripts errors; `sent`, `calls` and `answered_callbacks` record
what the bot did. The fake never connects anywhere except a webhook on 127.0.0.1.
"""

from __future__ import annotations

import enum
import json
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.telegram_api import BotApi
from tests.fakes.telegram_chats import JSON, Chats, chat_kind
from tests.fakes.telegram_errors import ApiError, fault
from tests.fakes.telegram_http import post_json, read_params
from tests.fakes.telegram_queue import UpdateQueue
from tests.fakes.telegram_records import Call, SentMessage, most_within
from tests.fakes.telegram_updates import UpdateBuilder, new_user
from tests.waiting import eventually

__all__ = ["REGISTERED", "Call", "FakeTelegram", "SentMessage"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Tests wait on the fake often and react to what it saw (a fault after the 100th send): poll fast.
POLL_SECONDS = 0.005


class _Registered(enum.Enum):
    SECRET = enum.auto()


REGISTERED = _Registered.SECRET  # post_to_webhook's default: the secret setWebhook registered


class FakeTelegram:
    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        bot_id: int = 5550001,
        bot_username: str = "TouchpointTestBot",
    ) -> None:
        self.token, self.bot_id, self.bot_username = token, bot_id, bot_username
        self.calls: list[Call] = []
        bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Touchpoint Test",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._chats = Chats()
        self._queue = UpdateQueue()
        self._api = BotApi(bot_user, self._chats, self._queue)
        self._updates = UpdateBuilder(self._chats, bot_user)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # --- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/documents/{file_id}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one, no race between tests
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._queue.close()  # answers waiting long polls now instead of after their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """python-telegram-bot's `base_url`: it appends the token, then "/<method>"."""
        return f"{self.root_url}/bot"

    # --- queueing updates as Telegram would send them

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_type: str | None = None,
        message_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """A text message; "/commands" get bot_command entities. Negative chat ids are groups
        ("supergroup" below -10^12) and need a `user_id`; private chats default it to chat_id."""
        if user_id is None and chat_kind(chat_id, chat_type) != "private":
            raise ValueError("a group message needs the sender's user_id")
        sender = new_user(user_id or chat_id, first_name, last_name, username, language_code)
        return self._queue_update(
            self._updates.message(
                chat_id,
                text,
                user=sender,
                chat_type=chat_type,
                message_id=message_id,
                reply_to_message_id=reply_to_message_id,
            )
        )

    def user_callback(
        self, chat_id: int, data: str, *, message_id: int, user_id: int | None = None
    ) -> JSON:
        """A button press on the bot's message `message_id` (its stored text and keyboard)."""
        return self._queue_update(
            self._updates.callback(chat_id, data, message_id=message_id, user_id=user_id or chat_id)
        )

    def user_contact(
        self, chat_id: int, phone: str, *, contact_user_id: int | None, first_name: str = "Ann"
    ) -> JSON:
        """A shared contact: `contact_user_id=chat_id` is the user's own (request_contact) number,
        another id or None a forwarded card that proves nothing about the sender."""
        return self._queue_update(
            self._updates.contact(
                chat_id, phone, contact_user_id=contact_user_id, first_name=first_name
            )
        )

    def user_edit(self, chat_id: int, message_id: int, text: str) -> JSON:
        return self._queue_update(self._updates.edit(chat_id, message_id, text))

    def user_blocks_bot(self, chat_id: int) -> JSON:
        """Queues my_chat_member member → kicked; from now on sends to the chat answer 403."""
        self._chats.blocked.add(chat_id)
        return self._queue_update(self._updates.membership(chat_id, "member", "kicked"))

    def user_unblocks_bot(self, chat_id: int) -> JSON:
        self._chats.blocked.discard(chat_id)
        return self._queue_update(self._updates.membership(chat_id, "kicked", "member"))

    def inject(self, update: JSON) -> JSON:
        """Queues any raw update (corpus samples). Its update_id is kept if above every id used
        so far, else replaced, so the queue stays ordered; the caller's dict is not changed."""
        self._chats.observe(update)
        return self._queue_update(update)

    def add_fault(
        self,
        method: str,
        code: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
        passing: int = 0,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id` only, if given) fail with `code`
        before the method runs: a faulted sendMessage sends nothing. 429 gets retry_after (1).
        With `passing`, that many matching calls go through first."""
        scripted = fault(
            method,
            code,
            description=description,
            retry_after=retry_after,
            times=times,
            chat_id=chat_id,
            passing=passing,
        )
        self._api.faults.append(scripted)

    def _queue_update(self, update: JSON) -> JSON:
        queued = self._queue.push(update)
        query = queued.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._api.open_callbacks.add(str(query["id"]))
        return queued

    # --- what the bot did

    @property
    def sent(self) -> list[SentMessage]:
        """Successful sendMessage, editMessageText and copyMessage calls, in order."""
        return self._api.sent

    def most_sent_in_a_second(self, chat_id: int | None = None, *, less: float = 0.0) -> int:
        """The most messages sent in any one second (less `less` seconds), to every chat or to
        `chat_id`: the Bot API's limits (30 a second per bot, about one a second per chat) are
        counted so."""
        return most_within([m.at for m in self.sent if chat_id in (None, m.chat_id)], 1.0 - less)

    def sent_per_second(self, first: int | None = None) -> float:
        """The pace of the sends (of the `first` ones), from the first to the last: how many a
        second."""
        times = sorted(message.at for message in self.sent)[:first]
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return (len(times) - 1) / span if span else 0.0

    @property
    def answered_callbacks(self) -> list[JSON]:
        return self._api.answered_callbacks

    @property
    def confirmed_offset(self) -> int:
        return self._queue.confirmed_offset

    @property
    def pending_updates(self) -> int:
        return len(self._queue.pending)

    @property
    def polling(self) -> bool:
        """A getUpdates long poll is waiting right now."""
        return self._queue.polling

    @property
    def commands(self) -> list[Any]:
        return self._api.commands

    def texts_to(self, chat_id: int, *, edits: bool = False) -> list[str]:
        """New messages to the chat, as the user reads them; `edits=True` adds edited texts."""
        kinds = ("sendMessage", "editMessageText") if edits else ("sendMessage",)
        return [m.text for m in self.sent if m.chat_id == chat_id and m.method in kinds]

    # The `timeout` parameters (ASYNC109) keep test lines short: `await fake.wait_sent(2, 3)`.
    async def wait_sent(self, count: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        def what_was_sent() -> str:
            texts = [m.text for m in self.sent]
            return f"sent {len(texts)}: {texts!r}\n{self.recent_calls()}"

        await eventually(
            lambda: len(self.sent) >= count,
            what=f"{count} sent messages",
            timeout=timeout,
            interval=POLL_SECONDS,
            context=what_was_sent,
        )

    async def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        what: str = "the condition",
    ) -> None:
        """`eventually`, showing on a timeout what the bot asked of the fake last. (Polling
        rather than notifications: predicates may look at state the fake cannot see.)"""
        await eventually(
            predicate, what=what, timeout=timeout, interval=POLL_SECONDS, context=self.recent_calls
        )

    def recent_calls(self) -> str:
        calls = ", ".join(f"{call.method}→{call.status}" for call in self.calls[-10:])
        return f"recent calls: {calls or 'none'}"

    # --- webhook side

    @property
    def webhook_url(self) -> str | None:
        return self._api.webhook.get("url")

    @property
    def webhook_secret(self) -> str | None:
        return self._api.webhook.get("secret_token")

    async def post_to_webhook(
        self,
        update: JSON | bytes,
        *,
        secret: str | Literal[_Registered.SECRET] | None = REGISTERED,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """POSTs to the registered webhook (127.0.0.1 only, redirects not followed) and returns
        (status, body). A 2xx answer delivers the update: it leaves `pending_updates`."""
        url = self._loopback_webhook()
        secret = self.webhook_secret if secret is REGISTERED else secret
        sent = {"Content-Type": "application/json"} | ({SECRET_HEADER: secret} if secret else {})
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        status, text = await post_json(url, body, sent | (headers or {}))
        if 200 <= status < 300 and isinstance(update, dict) and "update_id" in update:
            self._queue.remove(update["update_id"])
        return status, text

    async def deliver_to_webhook(self) -> list[int]:
        """Posts the pending updates in order, as Telegram does; stops at the first non-2xx
        answer (Telegram would retry that update later). Returns the statuses."""
        statuses: list[int] = []
        for update in list(self._queue.pending):
            statuses.append((await self.post_to_webhook(update))[0])
            if not 200 <= statuses[-1] < 300:
                break
        return statuses

    def _loopback_webhook(self) -> str:
        url = self.webhook_url
        if not url:
            raise AssertionError("no webhook is set: the bot has not called setWebhook")
        if urlsplit(url).hostname != "127.0.0.1":
            raise ValueError(f"the fake posts only to 127.0.0.1, not to {url}")
        return url

    # --- Bot API side

    def add_file(self, file_id: str, content: bytes) -> None:
        """A file users can send (by `file_id` in an update) and the bot can download."""
        self._api.files[file_id] = content

    async def _download(self, request: web.Request) -> web.Response:
        content = self._api.files.get(request.match_info["file_id"])
        if request.match_info["token"] != self.token or content is None:
            return web.Response(status=404)
        self.calls.append(Call("download", dict(request.match_info), time.monotonic(), 200))
        return web.Response(body=content, content_type="application/octet-stream")

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = self._api.canonical(request.match_info["method"])
        params: JSON = {}
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await read_params(request)
            status, body = 200, {"ok": True, "result": await self._api.call(method, params)}
        except ApiError as error:
            status, body = error.code, error.envelope()
        # Recorded when answered (a long poll after the calls it outlived), stamped on arrival.
        gone = request.transport is None or request.transport.is_closing()
        self.calls.append(Call(method, params, arrived, status, abandoned=gone))
        return web.json_response(body, status=status)
