"""Signing in without a password, and the one gate every page is behind.

- A person gets a one-time link (`/login` to the bot, or `touchpoint reps login-link`). Opening
  it (GET) only shows a button: link scanners and chat previews fetch pages, and must not use
  the link up. The button's POST consumes it and opens a session.
- The session's secret travels in an HttpOnly, SameSite=Lax cookie (Secure when the console is
  served over https) with the session's expiry; the server keeps only its hash, so signing a
  person out (`touchpoint reps logout`, removing them) ends it at once.
- Every request but the sign-in pages and static files needs a live session; every POST also
  needs the session's form token (the `csrf` field or the X-CSRF-Token header).
- Sign-in attempts are limited per client address.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

from bot.records import Rep
from storage.uow import UnitOfWork
from web.console import Console, console_of
from web.pages import SECURITY_HEADERS, render
from web.ratelimit import AttemptLimit
from web.viewer import VIEWER, Viewer

COOKIE = "touchpoint_session"
PUBLIC = ("/login", "/static/")
SIGN_IN_ATTEMPTS_PER_MINUTE = 20
LIMIT = web.AppKey("sign_in_limit", AttemptLimit)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _secure(error.headers)
        raise
    _secure(response.headers)
    return response


def _secure(headers: MutableMapping[str, str]) -> None:
    """The console's headers, where a response has not set a stricter one of its own (a
    chart's policy)."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


@web.middleware
async def signed_in_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC):
        return await handler(request)
    viewer = await _viewer(request)
    if viewer is None:
        raise web.HTTPSeeOther("/login")
    request[VIEWER] = viewer
    if request.method not in ("GET", "HEAD") and not await _form_token_matches(request, viewer):
        return render(request, "error.html", {"message": "error.forbidden"}, status=403)
    return await handler(request)


async def _viewer(request: web.Request) -> Viewer | None:
    secret = request.cookies.get(COOKIE)
    if not secret:
        return None
    console = console_of(request)
    now = console.clock()

    async def load(uow: UnitOfWork) -> tuple[str, Rep] | None:
        session = await uow.console_access.session(secret, now)
        rep = await uow.reps.get(session.rep_id) if session else None
        return (session.csrf_token, rep) if session and rep else None

    found = await console.read(load)
    return Viewer(found[1], found[0]) if found else None


async def _form_token_matches(request: web.Request, viewer: Viewer) -> bool:
    given = request.headers.get("X-CSRF-Token")
    if given is None:
        form = await request.post()
        field = form.get("csrf")
        given = field if isinstance(field, str) else ""
    return hmac.compare_digest(given.encode(), viewer.csrf_token.encode())


# --- the sign-in pages -------------------------------------------------------------------------


@routes.get("/login")
async def how_to_sign_in(request: web.Request) -> web.StreamResponse:
    return render(request, "login.html", {"holder": None, "refused": False})


@routes.get("/login/{secret}")
async def sign_in_button(request: web.Request) -> web.StreamResponse:
    _count_attempt(request)
    console = console_of(request)
    secret = request.match_info["secret"]
    now = console.clock()

    async def holder(uow: UnitOfWork) -> Rep | None:
        rep_id = await uow.console_access.link_holder(secret, now)
        return await uow.reps.get(rep_id) if rep_id is not None else None

    rep = await console.read(holder)
    status = 200 if rep else 410
    return render(request, "login.html", {"holder": rep, "refused": rep is None}, status=status)


@routes.post("/login/{secret}")
async def sign_in(request: web.Request) -> web.StreamResponse:
    _count_attempt(request)
    console = console_of(request)
    secret = request.match_info["secret"]
    opened = await console.write(lambda uow: _open_session(console, uow, secret))
    if opened is None:
        return render(request, "login.html", {"holder": None, "refused": True}, status=410)
    response = web.HTTPSeeOther(f"{console.config.base_url}/")
    response.set_cookie(
        COOKIE,
        opened,
        max_age=int(console.config.session_for.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=console.config.secure_cookies,
        path="/",
    )
    raise response


async def _open_session(console: Console, uow: UnitOfWork, secret: str) -> str | None:
    now = console.clock()
    rep_id = await uow.console_access.use_link(secret, now)
    if rep_id is None:
        return None
    opened = await uow.console_access.new_session(rep_id, now, console.config.session_for)
    return opened.secret


@routes.post("/logout")
async def sign_out(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    secret = request.cookies.get(COOKIE, "")
    await console.write(lambda uow: uow.console_access.end_session(secret, console.clock()))
    response = web.HTTPSeeOther(f"{console.config.base_url}/login")
    response.del_cookie(COOKIE, path="/")
    raise response


def _count_attempt(request: web.Request) -> None:
    if not request.app[LIMIT].allow(request.remote or "?"):
        raise web.HTTPTooManyRequests(text="Too many sign-in attempts: wait a minute.")
