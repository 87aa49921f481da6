"""The console's pages, one module per area; each exports `routes`."""

from __future__ import annotations

from aiohttp import web

from web.routes import contacts, dashboard, home, inbox, leads, pipeline, reps, tickets, touchpoints

ROUTES: tuple[web.RouteTableDef, ...] = (
    home.routes,
    dashboard.routes,
    touchpoints.routes,
    pipeline.routes,
    leads.routes,
    contacts.routes,
    inbox.routes,
    tickets.routes,
    reps.routes,
)
