"""The Bot API client's HTTP transport (aiohttp) against real servers on 127.0.0.1: what it
sends, which connections it keeps, and how a server that is gone or silent reaches the caller
(python-telegram-bot's `TimedOut` and `NetworkError`, which the relay reads as passing)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from channels.telegram.transport import AiohttpRequest

TOKEN = "123456:TEST-token"
ME = {"id": 123456, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}


@dataclass
class Seen:
    """What the server was asked: each request's form, and the client port it came from."""

    forms: list[dict[str, str]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    answer: tuple[int, dict[str, object]] = (200, {"ok": True, "result": {"message_id": 7}})
    silent: bool = False  # holds each request until released
    released: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def api_server(seen: Seen) -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": ME})
        seen.ports.append(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        form = await request.post()
        seen.forms.append({name: _shown(value) for name, value in form.items()})
        if seen.silent:
            await seen.released.wait()
        status, body = seen.answer
        return web.json_response(body, status=status)

    async def file(request: web.Request) -> web.StreamResponse:
        """`size` bytes, with its length stated, or chunked (no length) when asked."""
        size = int(request.match_info["size"])
        if request.query.get("chunked"):
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, size, 1000):
                await response.write(b"x" * min(1000, size - start))
            await response.write_eof()
            return response
        return web.Response(body=b"x" * size)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    app.router.add_get("/file/bot{token}/{size}", file)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        seen.released.set()
        await runner.cleanup()


@asynccontextmanager
async def client(url: str, read_timeout: float = 5.0) -> AsyncIterator[Bot]:
    request = AiohttpRequest(4, read_timeout=read_timeout)
    async with Bot(
        TOKEN, base_url=url, request=request, get_updates_request=AiohttpRequest()
    ) as bot:
        yield bot


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def send(bot: Bot, **params: object) -> object:
    return await bot.do_api_request("sendMessage", api_kwargs=params)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBUserWarning")
async def test_parameters_go_as_a_form_of_json_values_and_the_connection_is_kept() -> None:
    seen = Seen()
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Да", callback_data="yes")]])
    async with api_server(seen) as url, client(url) as bot:
        for number in range(5):
            answer = await send(bot, chat_id=42, text=f"Привет {number} & co", reply_markup=markup)
            assert answer == {"message_id": 7}

    assert [form["text"] for form in seen.forms] == [f"Привет {n} & co" for n in range(5)]
    assert seen.forms[0]["chat_id"] == "42"
    assert json.loads(seen.forms[0]["reply_markup"]) == markup.to_dict()
    assert len(set(seen.ports)) == 1  # one connection, kept alive across the five


async def test_a_file_goes_up_as_multipart_beside_its_parameters() -> None:
    seen = Seen()
    async with api_server(seen) as url, client(url) as bot:
        seen.answer = (200, {"ok": True, "result": _document_message()})
        await bot.send_document(
            42, InputFile(b"%PDF-1.7 offer", filename="offer.pdf"), caption="Offer"
        )

    assert seen.forms[-1] == {"chat_id": "42", "caption": "Offer", "document": "<file offer.pdf>"}


async def test_the_bot_apis_refusals_reach_the_caller_as_its_errors() -> None:
    seen = Seen()
    async with api_server(seen) as url, client(url) as bot:
        seen.answer = (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 5",
                "parameters": {"retry_after": 5},
            },
        )
        with pytest.raises(RetryAfter):
            await bot.send_message(42, "hello")
        seen.answer = (
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(42, "hello")


async def test_a_server_that_does_not_answer_times_out_at_the_read_timeout() -> None:
    seen = Seen()
    async with api_server(seen) as url, client(url, read_timeout=0.3) as bot:
        seen.silent = True
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            await bot.send_message(42, "hello")
        waited = asyncio.get_running_loop().time() - started
    assert waited < 5  # not until the server lets go


async def test_a_server_that_is_gone_is_a_network_error_naming_the_cause() -> None:
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match=r"aiohttp\.\w+"):
            await request.post(f"http://127.0.0.1:{closed_port()}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


async def test_it_refuses_to_send_before_it_is_started_and_after_it_is_shut_down() -> None:
    seen = Seen()
    request = AiohttpRequest()
    async with api_server(seen) as url:
        with pytest.raises(NetworkError, match="initialize"):
            await request.post(f"{url}{TOKEN}/sendMessage")
        await request.initialize()
        assert await request.post(f"{url}{TOKEN}/sendMessage") == {"message_id": 7}
        await request.shutdown()
        with pytest.raises(NetworkError, match="shutdown"):
            await request.post(f"{url}{TOKEN}/sendMessage")
    assert len(seen.forms) == 1


def _shown(value: str | bytes | bytearray | web.FileField) -> str:
    return f"<file {value.filename}>" if isinstance(value, web.FileField) else str(value)


def _document_message() -> dict[str, object]:
    return {
        "message_id": 8,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private"},
        "document": {"file_id": "f1", "file_unique_id": "u1", "file_name": "offer.pdf"},
    }


@pytest.mark.parametrize("chunked", [False, True], ids=["length stated", "chunked"])
async def test_an_answer_larger_than_the_limit_is_refused_as_a_network_error(
    chunked: bool,
) -> None:
    seen = Seen()
    request = AiohttpRequest(max_answer=10_000)
    query = "?chunked=1" if chunked else ""
    async with api_server(seen) as url:
        root = url.removesuffix("/bot")
        await request.initialize()
        try:
            assert await request.retrieve(f"{root}/file/bot{TOKEN}/10000{query}") == b"x" * 10_000
            with pytest.raises(NetworkError, match="more than 10000"):
                await request.retrieve(f"{root}/file/bot{TOKEN}/10001{query}")
        finally:
            await request.shutdown()


async def test_a_proxy_set_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where Telegram is reached only through a proxy, `HTTPS_PROXY`/`HTTP_PROXY` are honoured:
    here the API's address is a closed port, and only the proxy answers."""
    seen = Seen()
    async with api_server(seen) as proxy_url:
        proxy = proxy_url.removesuffix("/bot")
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        request = AiohttpRequest()
        await request.initialize()
        try:
            answer = await request.post(f"http://127.0.0.1:{closed_port()}/bot{TOKEN}/sendMessage")
        finally:
            await request.shutdown()
    assert answer == {"message_id": 7}
    assert len(seen.forms) == 1  # the proxy got the request, in the API's absolute form
