"""The console served on 127.0.0.1 over a test database, and a visitor that uses it as a
browser would (cookies, the form token of the last page), for tests that read like a visit:

    anna = await site.visitor()
    await anna.sign_in_as(rep_id)
    page = await anna.get("/pipeline")
    await anna.post("/leads/3/stage", {"stage": "won"})
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse, ClientSession, CookieJar, web

from bot.model import Address
from tests.harness import BotHarness
from web.app import make_app
from web.console import Console, ConsoleConfig

FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(slots=True)
class Page:
    status: int
    url: str
    text: str
    headers: dict[str, str]

    @property
    def form_token(self) -> str | None:
        found = FORM_TOKEN.search(self.text)
        return found.group(1) if found else None


@dataclass(slots=True)
class Visitor:
    base_url: str
    session: ClientSession
    form_token: str = field(default="", repr=False)

    async def get(self, path: str, *, follow: bool = True) -> Page:
        async with self.session.get(self.base_url + path, allow_redirects=follow) as response:
            return await self._page(response)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, token: bool = True
    ) -> Page:
        form = {**(data or {}), **({"csrf": self.form_token} if token else {})}
        async with self.session.post(self.base_url + path, data=form) as response:
            return await self._page(response)

    async def sign_in_with(self, link: str) -> Page:
        async with self.session.post(link) as response:
            return await self._page(response)

    async def _page(self, response: ClientResponse) -> Page:
        page = Page(
            response.status, str(response.url), await response.text(), dict(response.headers)
        )
        if page.form_token:
            self.form_token = page.form_token
        return page


@dataclass(slots=True)
class ConsoleSite:
    bot: BotHarness
    console: Console
    base_url: str
    runner: web.AppRunner
    sessions: list[ClientSession] = field(default_factory=list)

    async def visitor(self) -> Visitor:
        return Visitor(self.base_url, await self.client())

    async def client(self) -> ClientSession:
        """A browser's HTTP client: its own cookies (those of 127.0.0.1 kept), closed with the
        site."""
        session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self.sessions.append(session)
        return session

    async def add_rep(
        self, name: str, *, role: str = "rep", languages: tuple[str, ...] = ("en",),
        telegram: str | None = None,
    ) -> int:  # fmt: skip
        address = Address("telegram", telegram or str(abs(hash(name)) % 10**9))
        async with self.bot.database.transaction() as uow:
            rep_id = await uow.reps.add(
                name=name, languages=languages, identities=[address], role=role, capacity=5,
                now=self.bot.clock(),
            )  # fmt: skip
            await uow.commit()
        return rep_id

    async def login_link(self, rep_id: int) -> str:
        async with self.bot.database.transaction() as uow:
            secret = await uow.console_access.new_link(
                rep_id, self.bot.clock(), self.console.config.link_for
            )
            await uow.commit()
        return f"{self.base_url}/login/{secret}"

    async def signed_in(self, rep_id: int) -> Visitor:
        visitor = await self.visitor()
        page = await visitor.sign_in_with(await self.login_link(rep_id))
        assert page.status == 200, page.text[:500]
        return visitor

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
        await self.runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve_console(bot: BotHarness, **config: Any) -> ConsoleSite:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = bot.services.config
    console = Console(
        ConsoleConfig(
            base_url=config.get("base_url", base_url),
            zone=settings.zone,
            session_for=config.get("session_for", timedelta(hours=12)),
            link_for=config.get("link_for", timedelta(minutes=10)),
            followup_after=settings.followup_after,
            company_name=settings.company_name,
        ),
        bot.database,
        bot.dispatcher,
        bot.services,
        clock=bot.clock,
    )
    runner = web.AppRunner(make_app(console), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return ConsoleSite(bot, console, base_url, runner)
