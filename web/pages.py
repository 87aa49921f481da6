"""Rendering a page: the template with what every page shows (the viewer, their words, the
form token), and the headers that keep customer text from ever running as code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.console import console_of
from web.i18n import language, translate
from web.viewer import viewer_if_any

# No inline script or style anywhere: customer text in a page can never become code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A sign-in link is in a URL: it must not leave in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class BadInput(Exception):
    """A request that cannot be read, answered with a 400 page saying why (`reason` is in the
    page's words, which may quote a little of what was sent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def setup_templates(app: web.Application) -> None:
    """Templates from the package, every value escaped unless a template says otherwise (none
    does for anything a customer, a rep or a mail wrote)."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_language(request: web.Request) -> str:
    viewer = viewer_if_any(request)
    if viewer is not None:
        return viewer.lang
    wanted = request.headers.get("Accept-Language", "")
    return language("ru" if wanted.lower().startswith("ru") else "en")


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> web.Response:
    lang = page_language(request)
    viewer = viewer_if_any(request)
    console = console_of(request)
    shared = {
        "lang": lang,
        "t": lambda key, **fields: translate(key, lang, **fields),
        "viewer": viewer,
        "csrf": viewer.csrf_token if viewer is not None else "",
        "company": console.config.company_name,
        "path": request.path,
        "local": lambda moment: local_time(request, moment),
        "static": lambda name: str(request.app.router["static"].url_for(filename=name)),
    }
    return aiohttp_jinja2.render_template(
        template, request, {**shared, **(context or {})}, status=status
    )


def local_time(request: web.Request, moment: datetime | None) -> str:
    """A moment in the company's time zone, to the minute ("" for none)."""
    if moment is None:
        return ""
    return moment.astimezone(console_of(request).config.zone).strftime("%Y-%m-%d %H:%M")


def local_path(path: object) -> TypeGuard[str]:
    """Only a path of this console: never a redirect elsewhere."""
    return (
        isinstance(path, str)
        and path.startswith("/")
        and not path.startswith("//")
        and ("\\" not in path)
    )
