"""`touchpoint db prune`: forget now what is past its time (the bot also does it daily)."""

from __future__ import annotations

from dataclasses import asdict

import typer

from bot.bootstrap import retention
from bot.cli.common import settings_or_exit, writing
from bot.model import utc_now
from bot.retention import prune


def register(db_app: typer.Typer) -> None:
    db_app.command("prune")(db_prune)


def db_prune() -> None:
    """Forget raw mail, texts and dead letters' payloads older than their RETAIN_* setting;
    touchpoints, conversations, leads and tickets stay."""
    kept = retention(settings_or_exit())
    pruned = writing(lambda uow: prune(uow, kept, utc_now()))
    counts = ", ".join(
        f"{name.replace('_', ' ')} {count}" for name, count in asdict(pruned).items()
    )
    typer.echo(f"pruned: {counts}")
