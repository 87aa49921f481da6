"""The HTTP edges of the fake: reading Bot API parameters the way Telegram accepts them, and
posting to a webhook."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram_chats import JSON
from tests.fakes.telegram_errors import ApiError

# Parameters whose values are plain strings: PTB sends every other value JSON-encoded in its
# form body (numbers, booleans, keyboards), and a text like "42" or "true" must stay a string.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "action",
        "ip_address",
        "language_code",
        "business_connection_id",
        "message_effect_id",
    }
)


async def read_params(request: web.Request) -> JSON:
    """Query string plus a JSON, urlencoded or multipart body, as Telegram accepts them."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        raw |= body if isinstance(body, dict) else {}
    elif request.body_exists:
        form = await request.post()
        raw |= {name: _form_value(value) for name, value in form.items()}
    return {name: _decoded(name, value) for name, value in raw.items()}


def _form_value(value: str | bytes | bytearray | web.FileField) -> str:
    # Uploads are not stored: the record says which file came, which is what tests ask.
    if isinstance(value, web.FileField):
        return f"<file {value.filename}>"
    return value if isinstance(value, str) else bytes(value).decode()


def _decoded(name: str, value: Any) -> Any:
    if name in STRING_PARAMS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channel"


async def post_json(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    # Redirects are not followed: the fake must never end up talking to another host.
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=headers, allow_redirects=False) as response,
    ):
        return response.status, await response.text()
