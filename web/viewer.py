"""Who is looking: the signed-in person, their session's form token and their page language."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.records import Rep
from handlers.office import is_manager


@dataclass(frozen=True, slots=True)
class Viewer:
    rep: Rep
    csrf_token: str = field(repr=False)

    @property
    def manager(self) -> bool:
        return is_manager(self.rep)

    @property
    def lang(self) -> str:
        return self.rep.page_language


VIEWER: web.RequestKey[Viewer] = web.RequestKey("viewer", Viewer)


def viewer_of(request: web.Request) -> Viewer:
    """The signed-in person (the sign-in middleware lets no request without one reach a page)."""
    if VIEWER not in request:
        raise web.HTTPSeeOther("/login")
    return request[VIEWER]


def viewer_if_any(request: web.Request) -> Viewer | None:
    return request[VIEWER] if VIEWER in request else None  # noqa: SIM401 (get() is untyped)


def managers_only(request: web.Request) -> Viewer:
    """The viewer, who must be a manager; a rep sees the page as not there."""
    viewer = viewer_of(request)
    if not viewer.manager:
        raise web.HTTPNotFound()
    return viewer


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The handlers of managers' pages and forms, as registered; the test that walks every route
# (tests/web/test_routes_walk.py) reads it to expect a 404 for a rep there.
MANAGERS_ONLY: set[Handler] = set()


def for_managers(handler: Handler) -> Handler:
    """A route of managers only: a rep gets 404, as for a page that is not there. Put it under
    the route's decorator, so that the route holds the guarded handler:

        @routes.get("/reps")
        @for_managers
        async def team(request: web.Request) -> web.StreamResponse: ...
    """

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        managers_only(request)
        return await handler(request)

    MANAGERS_ONLY.add(guarded)
    return guarded
