"""Webhook mode: Telegram POSTs updates; the answer is 200 only once the update is committed.

Requests without the right `X-Telegram-Bot-Api-Secret-Token` get 403 (compared in constant
time), bodies that are too large or not an update get 413/400, and when the core cannot commit
(the database is away) the answer is 503 so that Telegram delivers the update again.
`GET /healthz` answers without touching the core.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Bot

from bot.model import Accept
from channels.telegram.normalize import BotIdentity, normalize
from channels.telegram.polling import Answer, answer_quietly

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


class WebhookApp:
    def __init__(
        self, client: Bot, me: BotIdentity, secret: str, path: str, accept: Accept, answer: Answer
    ) -> None:
        self._client = client
        self._me = me
        self._secret = secret.encode()
        self._accept = accept
        self._answer = answer
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_post(path, self._update)
        self.app.router.add_get("/healthz", _health)

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authentic(request):
            return web.Response(status=403, text="forbidden")
        raw = await _update_of(request)
        if raw is None:
            return web.Response(status=400, text="not a Telegram update")
        item = normalize(raw, self._me, self._client)  # never raises: bad updates are parked
        try:
            await self._accept(item.message)
        except Exception:
            log.exception(
                "update %s not committed; Telegram will deliver it again", raw["update_id"]
            )
            return web.Response(status=503, text="try again")
        if item.callback_query_id:
            await answer_quietly(self._answer, item.callback_query_id)
        return web.Response(text="ok")

    def _authentic(self, request: web.Request) -> bool:
        # aiohttp keeps header bytes that are not UTF-8 as surrogates: encode them back rather
        # than fail with a 500 on a forged header.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self._secret)


async def _update_of(request: web.Request) -> dict[str, Any] | None:
    try:
        raw = json.loads(await request.read())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None
    if not isinstance(raw, dict) or type(raw.get("update_id")) is not int:  # not a bool either
        return None
    return raw


async def _health(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
