"""Switching the page language (the first page after signing in is the dashboard)."""

from __future__ import annotations

from aiohttp import web

from web.console import console_of
from web.i18n import LANGUAGES
from web.pages import local_path
from web.viewer import viewer_of

routes = web.RouteTableDef()


@routes.post("/language")
async def switch_language(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    form = await request.post()
    wanted = form.get("lang")
    if wanted in LANGUAGES:
        rep_id = viewer.rep.id
        await console_of(request).write(
            lambda uow: uow.reps.update(rep_id, console_language=wanted)
        )
    back = form.get("back")
    raise web.HTTPSeeOther(back if isinstance(back, str) and local_path(back) else "/")
