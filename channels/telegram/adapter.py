"""The Telegram channel: python-telegram-bot's `Bot` as the Bot API client, our own receiving.

`run` serves long polling (default; while this instance holds the poller's lease, when several
share the bot) or a webhook (when `TELEGRAM_WEBHOOK_URL` is set; no lease); `send` delivers one
outbound message for the relay, paced and with errors classified.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot
from telegram.error import TelegramError

from bot.model import (
    Accept,
    Alone,
    Capabilities,
    FileCopy,
    Leader,
    Original,
    OutboundMessage,
    SendReceipt,
)
from channels.telegram.files import download
from channels.telegram.normalize import BotIdentity
from channels.telegram.pacing import OVERALL_WINDOW, Pacing
from channels.telegram.polling import OffsetStore, Poller
from channels.telegram.sending import TEXT_LIMIT, TelegramSender
from channels.telegram.transport import AiohttpRequest
from channels.telegram.webhook import WebhookApp

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org/bot"
SEND_CONNECTIONS = 32  # kept alive for the relay's sends side by side


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str
    api_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1:8080"
    poll_timeout: int = 25
    max_per_chat: float = 1.0
    max_per_second: float = 30.0
    conflict_wait: float = 30.0  # seconds between tries while another poller holds the token


class TelegramChannel:
    name = "telegram"
    # A rep on Telegram is shown a Telegram customer's message by copyMessage; a rep elsewhere
    # gets its files (`files_of`).
    capabilities = Capabilities(
        buttons=True,
        contact_button=True,
        files=True,
        copies_messages=True,
        typing=True,
        max_length=TEXT_LIMIT,
        proves_sender=True,
        paced_per_account=True,  # Telegram's limits are the bot's, however many processes send
    )

    def __init__(
        self, config: TelegramConfig, offsets: OffsetStore, poller_lease: Leader | None = None
    ) -> None:
        """`poller_lease`: held while this instance polls, when several may (one at a time, or
        Telegram answers 409 Conflict); a webhook needs none, any instance takes any update."""
        self._config = config
        self._offsets = offsets
        self._poller_lease = poller_lease or Alone()
        self._client = Bot(
            config.token,
            base_url=config.api_url or DEFAULT_API_URL,
            base_file_url=file_url(config.api_url or DEFAULT_API_URL),
            request=AiohttpRequest(SEND_CONNECTIONS, read_timeout=15.0, write_timeout=15.0),
            get_updates_request=AiohttpRequest(1),  # one long poll at a time
        )
        self._sender = TelegramSender(
            self._client, Pacing(config.max_per_chat, config.max_per_second)
        )
        self._me: BotIdentity | None = None
        self._ready = asyncio.Lock()

    @property
    def account(self) -> str:
        """The bot's id, the token's first part (`bot.model.PacedPerAccount`)."""
        return self._config.token.split(":")[0]

    @property
    def pace_window(self) -> float:
        """The window of the pacer's overall cap (`bot.model.PacedPerAccount`)."""
        return OVERALL_WINDOW

    async def run(self, accept: Accept) -> None:
        me = await self._identity()
        if self._config.webhook_url:
            await self._serve_webhook(me, accept)
        else:
            await self._poller_lease.run_while_leader(lambda: self._poll(me, accept))

    async def close(self) -> None:
        # Not at the end of `run`: the relay still sends through this client while it drains.
        with contextlib.suppress(Exception):
            await self._client.shutdown()

    async def send(self, message: OutboundMessage) -> SendReceipt:
        await self._identity()
        return await self._sender.send(message)

    async def files_of(self, original: Original) -> list[FileCopy]:
        return await download(self._client, original.payload or {})

    async def _poll(self, me: BotIdentity, accept: Accept) -> None:
        """Poll from the stored offset: a poller that took over goes on where the last left."""
        await self._client.delete_webhook()  # getUpdates is refused while one is set
        await self._poller(me).run(accept)

    def _poller(self, me: BotIdentity) -> Poller:
        config = self._config
        return Poller(
            self._client, me, self._offsets, self._answer, config.poll_timeout, config.conflict_wait
        )

    async def _identity(self) -> BotIdentity:
        async with self._ready:
            if self._me is None:
                await self._client.initialize()  # getMe: fails here, clearly, on a bad token
                user = self._client.bot
                self._me = BotIdentity(user.id, user.username or "")
                log.info("Telegram: serving @%s", self._me.username)
        return self._me

    async def _answer(self, callback_query_id: str) -> None:
        """Every button press is answered (or the client shows a spinner); stale ones too."""
        try:
            await self._client.answer_callback_query(callback_query_id)
        except TelegramError as error:
            log.info("callback query %s not answered: %s", callback_query_id, error)

    async def _serve_webhook(self, me: BotIdentity, accept: Accept) -> None:
        config = self._config
        assert config.webhook_url and config.webhook_secret
        path = urlsplit(config.webhook_url).path or "/"
        app = WebhookApp(self._client, me, config.webhook_secret, path, accept, self._answer)
        host, _, port = config.webhook_listen.rpartition(":")
        runner = web.AppRunner(app.app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, int(port)).start()
            await self._client.set_webhook(
                config.webhook_url, secret_token=config.webhook_secret, allowed_updates=[]
            )
            log.info("Telegram webhook listening on %s%s", config.webhook_listen, path)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def file_url(api_url: str) -> str:
    """Where files are downloaded: `…/bot` → `…/file/bot`, as on api.telegram.org and on a
    local Bot API server."""
    root = api_url.removesuffix("/").removesuffix("/bot")
    return f"{root}/file/bot"
