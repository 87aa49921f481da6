"""The console's aiohttp application: its pages, the sign-in gate and the static files."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from web import auth
from web.console import CONSOLE, Console
from web.pages import BadInput, render, setup_templates
from web.ratelimit import AttemptLimit
from web.routes import ROUTES

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
MAX_FORM_BYTES = 256 * 1024  # a note or an answer, not a file


def make_app(console: Console) -> web.Application:
    app = web.Application(
        middlewares=[auth.security_headers, _error_pages, auth.signed_in_only],
        client_max_size=MAX_FORM_BYTES,
    )
    app[CONSOLE] = console
    app[auth.LIMIT] = AttemptLimit(auth.SIGN_IN_ATTEMPTS_PER_MINUTE)
    setup_templates(app)
    app.router.add_routes(auth.routes)
    for table in ROUTES:
        app.router.add_routes(table)
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    return app


@web.middleware
async def _error_pages(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """A missing page, a refused one or one that could not be read, or a failure of ours, as a
    page of the console in the viewer's language (with the security headers every page has);
    a failure is logged, never shown."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return render(request, "error.html", {"message": "error.not_found"}, status=404)
    except BadInput as error:
        context = {"message": "error.bad_request", "fields": {"reason": error.reason}}
        return render(request, "error.html", context, status=400)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("console page %s %s failed", request.method, request.path)
        return render(request, "error.html", {"message": "error.server"}, status=500)
