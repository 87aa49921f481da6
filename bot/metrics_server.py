"""The operator's listener (METRICS_LISTEN): `/metrics` for Prometheus and `/healthz`.

Its own listener, on 127.0.0.1 by default: neither the public Telegram webhook nor the signed-in
console serves it. A listener that cannot start is logged and the bot goes on without it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.listener import listen
from bot.metrics import CONTENT_TYPE, Metrics
from storage.uow import Database, UnitOfWork

DATABASE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Watched:
    metrics: Metrics
    database: Database
    clock: Callable[[], datetime]


WATCHED = web.AppKey("watched", Watched)


def metrics_app(
    metrics: Metrics, database: Database, clock: Callable[[], datetime]
) -> web.Application:
    app = web.Application()
    app[WATCHED] = Watched(metrics, database, clock)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _health)
    return app


async def _metrics(request: web.Request) -> web.Response:
    watched = request.app[WATCHED]
    body = await watched.metrics.exposition(watched.database, watched.clock())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _health(request: web.Request) -> web.Response:
    """200 when the database answers; 503 when it does not (a load balancer takes the instance
    out). Which leases this instance holds is said once there are any to hold."""
    try:
        await asyncio.wait_for(request.app[WATCHED].database.run(_ping), DATABASE_SECONDS)
        healthy = True
    except Exception:  # any failure to reach it is the answer, not an error of ours
        healthy = False
    body = {"status": "ok" if healthy else "unavailable", "database": healthy}
    return web.Response(
        text=json.dumps(body), status=200 if healthy else 503, content_type="application/json"
    )


async def _ping(uow: UnitOfWork) -> None:
    await uow.health.ping()


async def serve_metrics(app: web.Application, host: str, port: int) -> None:
    """Serve until cancelled; a port that is taken is logged and nothing is served."""
    await listen(app, host, port, name="metrics")
