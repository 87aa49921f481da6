"""`touchpoint webhooks`: the company's endpoints that receive leads, resolved tickets and
ratings as signed JSON posts (sent by `touchpoint run`, see bot/webhooks.py)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

import typer

from bot.cli import output as out
from bot.cli.common import not_found, reading, writing
from bot.model import utc_now
from bot.webhook_events import EVENTS
from bot.webhook_urls import BadWebhookUrl, check_url, shown_url
from bot.webhooks import redeliver
from storage.repos.webhooks import Webhook
from storage.uow import UnitOfWork

webhooks_app = typer.Typer(
    help="Endpoints (a CRM) that receive events as signed JSON posts.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
COLUMNS = ("id", "url", "events", "pending", "delivered", "dead", "created_at")
DELIVERY_COLUMNS = ("id", "webhook_id", "event", "status", "attempts", "last_error", "created_at")
SECRET_PREFIX = "whsec_"


def _events(value: str) -> list[str]:
    names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in EVENTS]
    if not names or unknown:
        wrong = f"unknown event {', '.join(map(repr, unknown))}; " if unknown else ""
        raise typer.BadParameter(f"{wrong}use any of {','.join(EVENTS)}", param_hint="--events")
    return names


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="https:// URL (http:// only to this machine).")],
    events: Annotated[
        str, typer.Option(help=f"Comma-separated, any of {','.join(EVENTS)}.")
    ] = ",".join(EVENTS),
) -> None:
    """Add an endpoint; prints its signing secret, once (keep it: it is never shown again)."""
    try:
        url = check_url(url)
    except BadWebhookUrl as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(2) from None
    wanted = _events(events)
    secret = SECRET_PREFIX + secrets.token_hex(24)

    async def add(uow: UnitOfWork) -> int:
        return await uow.webhooks.add(url, secret, wanted, utc_now())

    webhook_id = writing(add)
    typer.echo(f"webhook {webhook_id} added: {shown_url(url)} ({', '.join(wanted)})")
    typer.echo(f"secret: {secret}")
    typer.echo("Keep the secret to check X-Touchpoint-Signature; it is not shown again.")


@webhooks_app.command("list")
def webhooks_list(as_json: JsonFlag = False) -> None:
    """List active endpoints with their deliveries by status (never their secrets)."""

    async def load(uow: UnitOfWork) -> list[dict[str, Any]]:
        counts = await uow.webhooks.counts()
        return [
            _view(webhook, counts.get(webhook.id, {})) for webhook in await uow.webhooks.active()
        ]

    out.rows(reading(load), as_json, COLUMNS)


def _view(webhook: Webhook, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": shown_url(webhook.url),
        "events": list(webhook.events),
        "pending": counts.get("pending", 0) + counts.get("sending", 0),
        "delivered": counts.get("delivered", 0),
        "dead": counts.get("dead", 0),
        "created_at": webhook.created_at,
    }


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: int) -> None:
    """Stop sending to an endpoint; events it has not received yet are cancelled."""
    cancelled = writing(lambda uow: uow.webhooks.remove(webhook_id))
    if cancelled is None:
        raise not_found(f"webhook {webhook_id}")
    typer.echo(f"webhook {webhook_id} removed ({cancelled} undelivered events cancelled)")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    as_json: JsonFlag = False,
    status: Annotated[
        str | None, typer.Option(help="Only these: pending, sending, delivered, dead, cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
) -> None:
    """List deliveries, newest first (a dead one's id is what `redeliver` takes)."""
    found = reading(lambda uow: uow.webhooks.search(status=status, limit=limit))
    out.rows(found, as_json, DELIVERY_COLUMNS)


@webhooks_app.command("redeliver")
def webhooks_redeliver(
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id (`dead-letters list`).")],
) -> None:
    """Send a dead (or delivered) delivery again, from its first attempt, with `run`."""
    now: datetime = utc_now()

    async def again(uow: UnitOfWork) -> tuple[bool, str | None]:
        view = await uow.webhooks.view(delivery_id)
        if view is None:
            return False, None
        return await redeliver(uow, delivery_id, now), view.status

    done, status = writing(again)
    if status is None:
        raise not_found(f"delivery {delivery_id}")
    if not done:
        why = "its endpoint was removed" if status == "cancelled" else f"it is {status}"
        typer.echo(f"touchpoint: delivery {delivery_id} cannot be sent again: {why}", err=True)
        raise typer.Exit(1)
    typer.echo(f"delivery {delivery_id} queued again")
