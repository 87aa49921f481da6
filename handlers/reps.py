"""What the bot says to a registered rep who writes to it (the rep side builds on this)."""

from __future__ import annotations

from bot.records import Rep
from bot.turn import Context, Reply


def rep_language(rep: Rep) -> str:
    """Rep-facing text is in the rep's first language."""
    return rep.languages[0] if rep.languages else "en"


def rep_help(ctx: Context, rep: Rep) -> Reply:
    return Reply(ctx.say("rep.help", rep_language(rep), name=rep.name))
