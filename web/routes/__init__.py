"""The console's pages, one module per area; each exports `routes`."""

from __future__ import annotations

from aiohttp import web

from web.routes import dashboard, home, touchpoints

ROUTES: tuple[web.RouteTableDef, ...] = (home.routes, dashboard.routes, touchpoints.routes)
