"""Every route of the console, walked: the sign-in gate, the form token, what a rep may open,
bad input and the security headers. The routes come from the application itself, so a page
added later is walked too without touching this file.

Manager-only routes are declared with `@for_managers` (web/viewer.py); a rep must get 404
there, as for a page that is not there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from yarl import URL

from storage.tables import metadata
from storage.uow import Database
from tests.harness import BotHarness
from tests.web.console_client import ConsoleSite, Page, Visitor, free_port
from tests.web.hostile import (
    IMAGE_ONERROR,
    QUOTE_BREAKER,
    SCRIPT_TAG,
    SVG_ONLOAD,
    assert_no_live_markup,
)
from web.app import make_app
from web.auth import PUBLIC
from web.viewer import MANAGERS_ONLY, for_managers

READING = ("GET", "HEAD")
SAMPLES = {"id": "1", "number": "1", "secret": "not-a-secret"}
PARAMETER = re.compile(r"\{(\w+)\}")
# Query parameters the agreed pages read (brief's URLs); values of them are the bad input.
QUERY_NAMES = (
    "q", "kind", "rep", "channel", "since", "until", "owner", "source", "status", "min_score",
    "overdue", "lang", "back", "page", "stage", "text",
)  # fmt: skip
CONTROL = "\x00\x01\x08\x1b[31m\u202e\r\n"
TOO_LONG = "x" * 100_000
MANAGER_AND_REP = (("Anna", "manager"), ("Olga", "rep"))


@dataclass(frozen=True, slots=True)
class Walk:
    method: str
    path: str  # with sample values in place of the parameters
    handler: Any
    parameters: tuple[str, ...]
    formatter: str  # the path with its parameters, e.g. /leads/{id}

    @property
    def reading(self) -> bool:
        return self.method in READING

    @property
    def public(self) -> bool:
        return self.path.startswith(PUBLIC)

    def with_values(self, value: str) -> str:
        return PARAMETER.sub(lambda _: value, self.formatter)


def walk(app: web.Application) -> Iterator[Walk]:
    """Each route but the static files, with its path parameters filled with sample values."""
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        formatter = resource.canonical
        names = tuple(PARAMETER.findall(formatter))
        path = str(resource.url_for(**{name: SAMPLES.get(name, "1") for name in names}))
        method = "POST" if route.method == "*" else route.method
        yield Walk(method, path, route.handler, names, formatter)


def routes_of(site: ConsoleSite, *, reading: bool) -> list[Walk]:
    found = [route for route in walk(site.runner.app) if route.reading == reading]
    assert found, "the walk found no routes"
    return found


def pages_of(site: ConsoleSite) -> list[Walk]:
    """The GET routes (each HEAD route repeats one of them)."""
    return [route for route in routes_of(site, reading=True) if route.method == "GET"]


async def ask(visitor: Visitor, method: str, path: str, data: Any = None, **headers: str) -> Page:
    """One request as it is answered: no redirect followed, no form token added."""
    url = URL(visitor.base_url + path, encoded=True)
    async with visitor.session.request(
        method, url, data=data, headers=headers, allow_redirects=False
    ) as response:
        return Page(
            response.status, str(response.url), await response.text(), dict(response.headers)
        )


async def everything(
    database: Database, *, but: tuple[str, ...] = ()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but those named), to show that a request changed nothing."""
    async with database.engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in await connection.execute(
                    select(table).order_by(*table.primary_key.columns)
                )
            ]
            for table in metadata.sorted_tables
            if table.name not in but
        }


async def a_lead_and_a_handoff(bot: BotHarness) -> None:
    """Something behind the sample ids: a lead nobody owns (contact 1) written by a customer
    who types markup, and a hand-off (contact 2) waiting for a rep."""
    eve = bot.customer("eve", name=SCRIPT_TAG)
    for text in (
        f"I would like a quote for 40 standing desks {IMAGE_ONERROR}",
        "Eve Mallory",
        "eve@example.org",
        QUOTE_BREAKER,  # the company
        f"{SVG_ONLOAD} by May",
    ):
        await eve.say(text)
    await eve.press("lead:confirm")
    await bot.customer("boris").say("/human")
    assert await bot.leads()


def assert_sent_to_sign_in(page: Page, route: Walk) -> None:
    assert (page.status, page.headers.get("Location")) == (303, "/login"), route
    assert "<html" not in page.text.lower(), route  # no page of the console in the answer


# --- a stranger ----------------------------------------------------------------------------------


async def test_a_stranger_is_sent_to_sign_in_from_every_page(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    stranger = await site.visitor()
    for route in routes_of(site, reading=True):
        page = await ask(stranger, route.method, route.path)
        if route.public:
            assert page.status in (200, 410), route  # /login, and a made-up link refused
        else:
            assert_sent_to_sign_in(page, route)


async def test_a_stranger_changes_nothing_by_posting(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    stranger = await site.visitor()
    before = await everything(site.bot.database)
    for route in routes_of(site, reading=False):
        page = await ask(stranger, route.method, route.path, {"csrf": "guessed", "lang": "ru"})
        if route.public:
            assert page.status == 410, route  # a made-up sign-in link
        else:
            assert_sent_to_sign_in(page, route)
    assert await everything(site.bot.database) == before


# --- signed in -----------------------------------------------------------------------------------


async def test_a_rep_opens_only_what_is_theirs(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    rep = await site.signed_in(await site.add_rep("Olga"))
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    for route in routes_of(site, reading=True):
        expected = (200, 303, 404, 410) if route.public else (200, 303, 404)  # 410: a bad link
        seen_by_rep = await ask(rep, route.method, route.path)
        seen_by_manager = await ask(manager, route.method, route.path)
        assert seen_by_rep.status in expected, (route, seen_by_rep.text[:300])
        assert seen_by_manager.status in expected, (route, seen_by_manager.text[:300])
        if route.handler in MANAGERS_ONLY:
            assert seen_by_rep.status == 404, route
        elif not route.parameters:  # a page of the manager's that is not declared as one
            hidden_from_rep = seen_by_rep.status == 404 and seen_by_manager.status == 200
            assert not hidden_from_rep, f"{route}: a manager's page, declare it @for_managers"
        assert 'href="/reps"' not in seen_by_rep.text, route  # no manager's menu for a rep


async def test_opening_pages_changes_nothing(site: ConsoleSite) -> None:
    """The form token guards only what is not GET: a page that changed something when opened
    could be changed by any site linking to it."""
    await a_lead_and_a_handoff(site.bot)
    people = [await site.signed_in(await site.add_rep(n, role=r)) for n, r in MANAGER_AND_REP]
    own = ("login_links", "web_sessions")  # the console's sign-in rows may be kept fresh
    before = await everything(site.bot.database, but=own)
    for route in pages_of(site):
        for person in people:
            assert (await ask(person, "GET", route.path)).status < 500, route
        assert await everything(site.bot.database, but=own) == before, f"{route} changed rows"


async def test_pages_show_what_customers_typed_as_text(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    for route in pages_of(site):
        page = await ask(manager, "GET", route.path)
        if page.status == 200 and "html" in page.headers.get("Content-Type", ""):
            assert_no_live_markup(page.text)


async def test_every_form_needs_its_token(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    for role in ("rep", "manager"):
        person = await site.signed_in(await site.add_rep(f"Someone {role}", role=role))
        before = await everything(site.bot.database)
        for route in routes_of(site, reading=False):
            if route.public:
                continue
            page = await ask(person, route.method, route.path, {"lang": "ru", "back": "/"})
            forged = await ask(person, route.method, route.path, {"csrf": "guessed"})
            assert (page.status, forged.status) == (403, 403), route
        assert await everything(site.bot.database) == before


# --- bad input -----------------------------------------------------------------------------------


async def test_a_huge_query_string_is_refused(site: ConsoleSite) -> None:
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    for route in pages_of(site):
        page = await ask(manager, "GET", f"{route.path}?q={TOO_LONG}")
        assert 400 <= page.status < 500, route


async def test_control_characters_and_long_values_never_break_a_page(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    weird = str(URL.build(query=dict.fromkeys(QUERY_NAMES, CONTROL)))
    bad_parameter = "%00%1B%E2%80%AE%0D%0A"
    for route in pages_of(site):
        assert (await ask(manager, "GET", route.path + weird)).status < 500, route
        if route.parameters:
            page = await ask(manager, "GET", route.with_values(bad_parameter))
            assert page.status < 500, route


async def test_long_and_odd_form_values_never_break_a_form(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    await manager.get("/")
    token = manager.form_token
    for route in routes_of(site, reading=False):
        for value in (TOO_LONG, CONTROL):
            form = dict.fromkeys(QUERY_NAMES, value)
            page = await ask(manager, route.method, route.path, form, **{"X-CSRF-Token": token})
            assert page.status < 500, (route, page.text[:300])


async def test_a_form_body_beyond_the_limit_is_refused(site: ConsoleSite) -> None:
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    await manager.get("/")
    for route in routes_of(site, reading=False):
        if route.public:
            continue
        form = {"text": "x" * 300_000, "csrf": manager.form_token}
        page = await ask(manager, route.method, route.path, form)
        assert page.status == 413, route


# --- headers -------------------------------------------------------------------------------------


def assert_secure_headers(page: Page, where: object) -> None:
    policy = page.headers.get("Content-Security-Policy", "")
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy, where
    assert "frame-ancestors 'none'" in policy, where
    assert page.headers.get("X-Content-Type-Options") == "nosniff", where
    assert page.headers.get("Referrer-Policy") == "no-referrer", where


async def test_every_answer_carries_the_security_headers(site: ConsoleSite) -> None:
    await a_lead_and_a_handoff(site.bot)
    stranger = await site.visitor()
    rep = await site.signed_in(await site.add_rep("Olga"))
    for route in routes_of(site, reading=True):
        for visitor in (stranger, rep):
            assert_secure_headers(await ask(visitor, route.method, route.path), route)
    assert_secure_headers(await ask(rep, "GET", "/no-such-page"), "the 404 page")
    assert_secure_headers(await ask(rep, "POST", "/language", {"lang": "ru"}), "the 403 page")
    assert_secure_headers(await ask(rep, "GET", "/static/console.css"), "a static file")


# --- the marker of managers' routes --------------------------------------------------------------


async def test_a_route_declared_for_managers_is_not_there_for_a_rep(site: ConsoleSite) -> None:
    rep = await site.signed_in(await site.add_rep("Olga"))
    manager = await site.signed_in(await site.add_rep("Anna", role="manager"))
    app = make_app(site.console)
    app.router.add_get("/team", the_team)
    declared = [route.path for route in walk(app) if route.handler in MANAGERS_ONLY]
    assert declared.count("/team") == 2  # GET and HEAD
    async with served(app) as other:
        # The session cookie is for 127.0.0.1 whatever the port: the same people, signed in.
        assert (await ask(Visitor(other, manager.session), "GET", "/team")).text == "the team"
        refused = await ask(Visitor(other, rep.session), "GET", "/team")
    assert refused.status == 404
    assert "the team" not in refused.text


@for_managers
async def the_team(request: web.Request) -> web.StreamResponse:
    return web.Response(text="the team")


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
