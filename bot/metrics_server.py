"""The operator's listener (METRICS_LISTEN): `/metrics` for Prometheus and `/healthz`.

Its own listener, on 127.0.0.1 by default: neither the public Telegram webhook nor the signed-in
console serves it. A listener that cannot start is logged and the bot goes on without it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
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
    leases: Callable[[], Mapping[str, bool]]


WATCHED = web.AppKey("watched", Watched)


def metrics_app(
    metrics: Metrics,
    database: Database,
    clock: Callable[[], datetime],
    leases: Callable[[], Mapping[str, bool]] = dict,
) -> web.Application:
    """`leases()`: the leader leases this instance stands for, and whether it holds each."""
    app = web.Application()
    app[WATCHED] = Watched(metrics, database, clock, leases)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _health)
    return app


async def _metrics(request: web.Request) -> web.Response:
    watched = request.app[WATCHED]
    body = await watched.metrics.exposition(watched.database, watched.clock())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _health(request: web.Request) -> web.Response:
    """200 when the database answers; 503 when it does not (a load balancer takes the instance
    out). Which leader leases this instance holds is said once there are any to hold: a
    standby is healthy too."""
    watched = request.app[WATCHED]
    try:
        await asyncio.wait_for(watched.database.run(_ping), DATABASE_SECONDS)
        healthy = True
    except Exception:  # any failure to reach it is the answer, not an error of ours
        healthy = False
    body: dict[str, object] = {"status": "ok" if healthy else "unavailable", "database": healthy}
    if leases := watched.leases():
        body["leases"] = dict(leases)
    return web.Response(
        text=json.dumps(body), status=200 if healthy else 503, content_type="application/json"
    )


async def _ping(uow: UnitOfWork) -> None:
    await uow.health.ping()


async def serve_metrics(app: web.Application, host: str, port: int) -> None:
    """Serve until cancelled; a port that is taken is logged and nothing is served."""
    await listen(app, host, port, name="metrics")
