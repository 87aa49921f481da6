"""The console's pages, one module per area; each exports `routes`."""

from __future__ import annotations

from aiohttp import web

from web.routes import home, inbox, reps, tickets

ROUTES: tuple[web.RouteTableDef, ...] = (
    home.routes,
    inbox.routes,
    tickets.routes,
    reps.routes,
)
